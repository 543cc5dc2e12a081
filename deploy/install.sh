#!/bin/sh
# Installs (or updates) dashcam from a release folder on a Debian / Raspberry Pi OS machine.
#
#   sudo ./install.sh [--prefix DIR] [--destdir DIR] [--no-systemctl] [--no-start]
#
#   --prefix DIR     where the program goes (default /opt/dashcam: bin/dashcam, bin/ffmpeg, GUIDE.md)
#   --destdir DIR    stage into DIR instead of / (also: DESTDIR=DIR). Users and groups are then
#                    written to DIR/etc/passwd, group, shadow, gshadow (useradd --prefix) when
#                    those files exist; systemctl is never called.
#   --no-systemctl   do not call systemctl (daemon-reload, enable, restart)
#   --no-start       enable the service but do not (re)start it
#
# What it does, every step safe to repeat:
#   - system user and group `dashcam` (no login, home /var/lib/dashcam), member of `video`
#     (cameras) and `gpio` (save button); missing groups are created, and a udev rule gives
#     /dev/gpiochip* to group gpio on systems that do not already do so
#   - PREFIX/bin/dashcam and PREFIX/bin/ffmpeg (replaced atomically, so an update while the
#     service runs is safe), /usr/local/bin/dashcam -> PREFIX/bin/dashcam
#   - /etc/dashcam/dashcam.toml (0640 root:dashcam) from the example, only when absent;
#     dashcam.toml.example is always refreshed
#   - /var/lib/dashcam (0750 dashcam:dashcam); secret.key made when absent; database and key
#     files (dashcam.db, -wal, -shm, secret.key) forced to 0600 dashcam:dashcam
#   - /etc/systemd/system/dashcam.service (ExecStart adjusted to PREFIX), enabled and restarted
set -eu

SRC=$(cd "$(dirname "$0")" && pwd)
PREFIX=/opt/dashcam
DESTDIR=${DESTDIR:-}
SYSTEMCTL=yes
START=yes
USER_NAME=dashcam
CONFIG_DIR=/etc/dashcam
DATA_DIR=/var/lib/dashcam
UNIT_DIR=/etc/systemd/system

die() { echo "install.sh: $*" >&2; exit 2; }
say() { echo "install.sh: $*"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || die "--prefix needs a directory"; PREFIX=$2; shift 2 ;;
    --prefix=*) PREFIX=${1#*=}; shift ;;
    --destdir) [ $# -ge 2 ] || die "--destdir needs a directory"; DESTDIR=$2; shift 2 ;;
    --destdir=*) DESTDIR=${1#*=}; shift ;;
    --no-systemctl) SYSTEMCTL=no; shift ;;
    --no-start) START=no; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done
case "$PREFIX" in /*) ;; *) die "--prefix must be an absolute path" ;; esac
if [ -n "$DESTDIR" ]; then
  DESTDIR=$(cd "$DESTDIR" 2>/dev/null && pwd) || die "--destdir $DESTDIR does not exist"
  SYSTEMCTL=no
fi
for f in dashcam dashcam.service dashcam.toml.example; do
  [ -f "$SRC/$f" ] || die "$SRC/$f is missing (run from a release folder made by deploy/build.ts)"
done

ROOT_USER=yes
[ "$(id -u)" = 0 ] || ROOT_USER=no
[ "$ROOT_USER" = yes ] || [ -n "$DESTDIR" ] || die "run as root (sudo ./install.sh)"

# --- users and groups -------------------------------------------------------------------
# With DESTDIR the account tools work on DESTDIR/etc (shadow's --prefix); without it on /etc.
ACCOUNTS=yes
ACCT_OPT=""
if [ -n "$DESTDIR" ]; then
  if [ -f "$DESTDIR/etc/passwd" ] && [ -f "$DESTDIR/etc/group" ] && [ "$ROOT_USER" = yes ]; then
    ACCT_OPT="--prefix $DESTDIR"
  else
    ACCOUNTS=no
    say "no $DESTDIR/etc/passwd (or not root): user and ownership steps skipped"
  fi
fi
ETC="$DESTDIR/etc"

has_group() { grep -q "^$1:" "$ETC/group"; }
has_user() { grep -q "^$1:" "$ETC/passwd"; }
in_group() { grep "^$2:" "$ETC/group" | cut -d: -f4 | tr ',' '\n' | grep -qx "$1"; }

NOLOGIN=/usr/sbin/nologin
[ -x "$DESTDIR$NOLOGIN" ] || [ -x "$NOLOGIN" ] || NOLOGIN=/bin/false

CREATED_GPIO=no
if [ "$ACCOUNTS" = yes ]; then
  for g in video gpio; do
    if ! has_group "$g"; then
      # shellcheck disable=SC2086
      groupadd $ACCT_OPT --system "$g"
      say "created group $g"
      if [ "$g" = gpio ]; then CREATED_GPIO=yes; fi
    fi
  done
  if ! has_group "$USER_NAME"; then
    # shellcheck disable=SC2086
    groupadd $ACCT_OPT --system "$USER_NAME"
  fi
  if ! has_user "$USER_NAME"; then
    # shellcheck disable=SC2086
    useradd $ACCT_OPT --system --gid "$USER_NAME" --home-dir "$DATA_DIR" --no-create-home \
      --shell "$NOLOGIN" --comment "dashcam recorder" "$USER_NAME"
    say "created user $USER_NAME"
  fi
  for g in video gpio; do
    if ! in_group "$USER_NAME" "$g"; then
      # shellcheck disable=SC2086
      usermod $ACCT_OPT --append --groups "$g" "$USER_NAME"
      say "added $USER_NAME to group $g"
    fi
  done
  UID_N=$(grep "^$USER_NAME:" "$ETC/passwd" | cut -d: -f3)
  GID_N=$(grep "^$USER_NAME:" "$ETC/group" | cut -d: -f3)
fi

# own PATH OWNER MODE: OWNER is "root" or "user" (the dashcam account) or "root:user".
own() {
  chmod "$3" "$1"
  [ "$ACCOUNTS" = yes ] || return 0
  case "$2" in
    root) chown 0:0 "$1" ;;
    user) chown "$UID_N:$GID_N" "$1" ;;
    root:user) chown "0:$GID_N" "$1" ;;
  esac
}

# install_file SRC DEST OWNER MODE: copy next to DEST, then rename over it (atomic replace).
install_file() {
  mkdir -p "$(dirname "$2")"
  cp "$1" "$2.new.$$"
  own "$2.new.$$" "$3" "$4"
  mv -f "$2.new.$$" "$2"
}

# --- program ------------------------------------------------------------------------------
mkdir -p "$DESTDIR$PREFIX/bin"
chmod 0755 "$DESTDIR$PREFIX" "$DESTDIR$PREFIX/bin"
install_file "$SRC/dashcam" "$DESTDIR$PREFIX/bin/dashcam" root 0755
if [ -f "$SRC/ffmpeg" ]; then
  install_file "$SRC/ffmpeg" "$DESTDIR$PREFIX/bin/ffmpeg" root 0755
else
  say "no ffmpeg in $SRC: dashcam will use FFMPEG_PATH or ffmpeg on PATH"
fi
for f in GUIDE.md FFMPEG-NOTICE.txt VERSION; do
  if [ -f "$SRC/$f" ]; then install_file "$SRC/$f" "$DESTDIR$PREFIX/$f" root 0644; fi
done
mkdir -p "$DESTDIR/usr/local/bin"
ln -sfn "$PREFIX/bin/dashcam" "$DESTDIR/usr/local/bin/dashcam"

# --- configuration ---------------------------------------------------------------------------
mkdir -p "$DESTDIR$CONFIG_DIR"
own "$DESTDIR$CONFIG_DIR" root:user 0750
install_file "$SRC/dashcam.toml.example" "$DESTDIR$CONFIG_DIR/dashcam.toml.example" root:user 0640
if [ ! -f "$DESTDIR$CONFIG_DIR/dashcam.toml" ]; then
  install_file "$SRC/dashcam.toml.example" "$DESTDIR$CONFIG_DIR/dashcam.toml" root:user 0640
  say "wrote $CONFIG_DIR/dashcam.toml (edit the camera source, then: systemctl restart dashcam)"
else
  own "$DESTDIR$CONFIG_DIR/dashcam.toml" root:user 0640
  say "kept existing $CONFIG_DIR/dashcam.toml"
fi

# --- data ---------------------------------------------------------------------------------------
mkdir -p "$DESTDIR$DATA_DIR"
own "$DESTDIR$DATA_DIR" user 0750
KEY="$DESTDIR$DATA_DIR/secret.key"
if [ ! -f "$KEY" ] && [ -r /dev/urandom ]; then
  (umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$KEY.new.$$" && echo >> "$KEY.new.$$")
  mv -f "$KEY.new.$$" "$KEY"
  say "made $DATA_DIR/secret.key (AES-256 key for camera URLs; back it up with the database)"
fi
for f in secret.key dashcam.db dashcam.db-wal dashcam.db-shm; do
  if [ -e "$DESTDIR$DATA_DIR/$f" ]; then own "$DESTDIR$DATA_DIR/$f" user 0600; fi
done

# --- GPIO device access ------------------------------------------------------------------------
# Raspberry Pi OS already gives /dev/gpiochip* to group gpio; elsewhere this rule does.
RULE="$DESTDIR/etc/udev/rules.d/60-dashcam-gpiochip.rules"
if [ "$CREATED_GPIO" = yes ] || [ -f "$RULE" ]; then
  mkdir -p "$(dirname "$RULE")"
  printf '%s\n' '# installed by dashcam install.sh: the save button is read through /dev/gpiochip*' \
    'SUBSYSTEM=="gpio", KERNEL=="gpiochip*", GROUP="gpio", MODE="0660"' > "$RULE.new.$$"
  chmod 0644 "$RULE.new.$$"
  mv -f "$RULE.new.$$" "$RULE"
fi

# --- systemd -----------------------------------------------------------------------------------
mkdir -p "$DESTDIR$UNIT_DIR"
sed -e "s|/opt/dashcam|$PREFIX|g" "$SRC/dashcam.service" > "$DESTDIR$UNIT_DIR/dashcam.service.new.$$"
chmod 0644 "$DESTDIR$UNIT_DIR/dashcam.service.new.$$"
mv -f "$DESTDIR$UNIT_DIR/dashcam.service.new.$$" "$DESTDIR$UNIT_DIR/dashcam.service"

if [ "$SYSTEMCTL" = yes ]; then
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    if [ "$CREATED_GPIO" = yes ] && command -v udevadm >/dev/null 2>&1; then
      udevadm trigger --subsystem-match=gpio || true
    fi
    systemctl daemon-reload
    systemctl enable dashcam.service
    if [ "$START" = yes ]; then
      systemctl restart dashcam.service
      say "dashcam.service restarted (logs: journalctl -u dashcam -f)"
    fi
  else
    say "systemd is not running here: start it later with systemctl enable --now dashcam"
  fi
fi
say "installed $("$DESTDIR$PREFIX/bin/dashcam" --version 2>/dev/null || echo "dashcam into $DESTDIR$PREFIX")"
