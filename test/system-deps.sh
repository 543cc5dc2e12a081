#!/bin/sh
# Debian packages the test suite uses: real ffmpeg/ffprobe, an RTSP server, headless Chromium,
# libgpiod's tools, PostgreSQL, systemd (systemd-analyze verifies the unit), qemu user-mode emulation for the arm64 smoke test, and for the
# power-cut VM (test/vm/powercut.ts) qemu-system-x86, a Debian kernel, busybox-static, cpio and e2fsprogs (mkfs.ext4, debugfs).
# Installs what is missing when run as root (apt-get); otherwise names what is missing.
set -e
PKGS="ffmpeg rtsp-server-perl chromium gpiod postgresql systemd qemu-user-static libc6-arm64-cross qemu-system-x86 linux-image-amd64 busybox-static cpio e2fsprogs"
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
