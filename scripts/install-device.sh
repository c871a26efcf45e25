#!/usr/bin/env bash
# Install gatecheck on a gate device (Raspberry Pi OS / Debian) from this checkout and
# set it up from a device bundle. Run as root on the device:
#
#   sudo scripts/install-device.sh /path/to/bundle.json [gatecheck edge init options...]
#   e.g. ... bundle.json --thermometer mlx90614 --temp-offset 0.3 --source 0
#
# --dry-run (first argument) prints the commands instead of running them.
# Step by step, with what each does: docs/deploy.md.
set -euo pipefail

dry=0
if [[ "${1:-}" == "--dry-run" ]]; then dry=1; shift; fi
if [[ $# -lt 1 || "$1" == "-h" || "$1" == "--help" ]]; then
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit $(( $# < 1 ? 2 : 0 ))
fi
bundle="$(realpath "$1")"; shift
[[ -r "$bundle" ]] || { echo "install-device: cannot read bundle $bundle" >&2; exit 2; }
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix=/opt/gatecheck
home=/var/lib/gatecheck
user=gatecheck

run() {
    if ((dry)); then printf '+'; printf ' %q' "$@"; printf '\n'; else "$@"; fi
}

if ((!dry)) && [[ $EUID -ne 0 ]]; then echo "install-device: run as root (sudo)" >&2; exit 2; fi

# 1. System packages: the QR decoder's library, Python, the kiosk display and its voice
#    (espeak-ng renders the spoken prompts on the device), I2C tools.
run apt-get update -qq
run apt-get install -y -qq --no-install-recommends \
    libzbar0 python3-venv chromium cage fonts-noto-cjk espeak-ng i2c-tools
# The thermometer's bus (Raspberry Pi), and network time (no battery clock on the board).
if command -v raspi-config >/dev/null; then run raspi-config nonint do_i2c 0; fi
run timedatectl set-ntp true
# SD-card wear: keep the system journal in RAM (the check log is the record that matters).
run mkdir -p /etc/systemd/journald.conf.d
if ((dry)); then echo "+ write /etc/systemd/journald.conf.d/gatecheck.conf (Storage=volatile)"
else printf '[Journal]\nStorage=volatile\nRuntimeMaxUse=32M\n' > /etc/systemd/journald.conf.d/gatecheck.conf; fi

# 2. The service account: cameras (video), serial thermometers (dialout), I2C (i2c).
if ! id "$user" >/dev/null 2>&1; then
    run useradd --system --home-dir "$home" --shell /usr/sbin/nologin "$user"
fi
for group in video dialout i2c render; do
    if getent group "$group" >/dev/null; then run usermod -aG "$group" "$user"; fi
done

# 3. The software, in its own virtualenv with the pinned dependencies.
run python3 -m venv "$prefix"
run "$prefix/bin/pip" install --quiet --upgrade pip
# One OpenCV wheel owns cv2: an upgrade drops the plain build the contrib one replaced.
if "$prefix/bin/pip" show -q opencv-python-headless >/dev/null 2>&1; then
    run "$prefix/bin/pip" uninstall --yes --quiet opencv-python-headless
fi
run "$prefix/bin/pip" install --quiet "$repo[edge]"  # the gate's stack only: no PostgreSQL drivers
run ln -sf "$prefix/bin/gatecheck" /usr/local/bin/gatecheck

# 4. This device: bundle, check log, settings — then the services.
run env GATECHECK_HOME="$home" "$prefix/bin/gatecheck" edge init --bundle "$bundle" --home "$home" "$@"
run chown -R "$user:$user" "$home"
run "$prefix/bin/gatecheck" edge install-units --user "$user" --home "$home"
run systemctl daemon-reload
run systemctl enable --now gatecheck-edge.service gatecheck-sync.service gatecheck-purge.timer
run systemctl enable --now gatecheck-kiosk-browser.service
run systemctl restart gatecheck-edge.service gatecheck-sync.service

# 5. The technician's checklist.
run runuser -u "$user" -- env GATECHECK_HOME="$home" "$prefix/bin/gatecheck" doctor || true
