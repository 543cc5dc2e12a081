#!/bin/sh
# Debian packages the test suite uses: real ffmpeg/ffprobe, an RTSP server, headless Chromium,
# libgpiod's tools, PostgreSQL, and qemu user-mode emulation for the arm64 smoke test.
# Installs what is missing when run as root (apt-get); otherwise names what is missing.
set -e
PKGS="ffmpeg rtsp-server-perl chromium gpiod postgresql qemu-user-static libc6-arm64-cross"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian packages:$missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq $missing >/dev/null
else
  echo "missing Debian packages:$missing (install them with apt-get)" >&2
  exit 1
fi
