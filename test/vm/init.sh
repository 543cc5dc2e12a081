#!/bin/busybox sh
# PID 1 of the power-cut VM (test/vm/powercut.ts). Mounts the data disk (/dev/vda, ext4: the
# kernel replays its journal, as after any power cut), starts `dashcam run` (start-up
# reconciliation salvages what the last cut left), runs `dashcam check` until it is clean (the
# trips of the earlier boot are closed right after start-up), then either keeps recording and
# prints the guest's wall clock every 100 ms (`VM: TICK <s> <us>`, so the host knows in guest
# time when it pulled the plug) or, with `dashcam.mode=final` on the kernel command line, stops
# the runtime in order, unmounts and powers off. Every line for the host starts with `VM: `;
# the runtime's own log is forwarded as `VM: log: ...`.
/bin/busybox --install -s /bin
export PATH=/bin:/opt/dashcam
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/shm /tmp /data
mount -t tmpfs tmp /tmp
mount -t tmpfs shm /dev/shm
for m in $(cat /lib/modules/order); do insmod "/lib/modules/$m" || echo "VM: insmod $m failed"; done
now() { adjtimex | awk '/tv_sec/{s=$2} /tv_usec/{u=$2} END{printf "%d %06d", s, u}'; }
mode=record
grep -q 'dashcam.mode=final' /proc/cmdline && mode=final
i=0
while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do usleep 100000; i=$((i + 1)); done
if ! mount -t ext4 /dev/vda /data; then
  echo "VM: FATAL cannot mount /dev/vda"
  poweroff -f
fi
echo "VM: BOOT $(now)"
export FFMPEG_PATH=/opt/dashcam/ffmpeg HOME=/tmp
dashcam run --config /etc/dashcam.toml > /tmp/run.log 2>&1 &
pid=$!
# from the first line: plain `tail -f` starts at the last 10, and a start-up with many repairs
# pushed the "ffmpeg started" lines the host needs out of them
tail -n +1 -f /tmp/run.log | while IFS= read -r l; do echo "VM: log: $l"; done &
i=0
while ! grep -q 'listening on' /tmp/run.log; do
  if ! kill -0 $pid 2>/dev/null || [ $i -gt 600 ]; then
    sed 's/^/VM: run: /' /tmp/run.log
    echo "VM: FATAL dashcam run did not start"
    poweroff -f
  fi
  usleep 100000
  i=$((i + 1))
done
echo "VM: LISTENING $(now)"
i=0
while :; do
  dashcam check --config /etc/dashcam.toml > /tmp/check.log 2>&1
  rc=$?
  [ $rc -eq 0 ] || [ $i -ge 40 ] && break
  usleep 250000
  i=$((i + 1))
done
sed 's/^/VM: check: /' /tmp/check.log
echo "VM: CHECK $rc"
if [ "$mode" = final ]; then
  kill -TERM $pid
  wait $pid
  echo "VM: STOPPED $?"
  sync
  umount /data
  echo "VM: FINAL-DONE"
  poweroff -f
fi
if grep -q 'dashcam.save=1' /proc/cmdline; then
  dashcam trips save --current --config /etc/dashcam.toml > /tmp/save.log 2>&1
  echo "VM: SAVE $? $(head -c 300 /tmp/save.log | tr '\n' ' ')"
fi
echo "VM: RECORDING $(now)"
while :; do
  echo "VM: TICK $(now)"
  usleep 100000
done
