#!/usr/bin/env bash
# Set up a fresh Debian machine for gatecheck: system packages, a virtualenv, the project.
# Idempotent: re-running only installs what is missing.
# Usage: bootstrap.sh [VENV_DIR] [--test]   (--test adds PostgreSQL and Chromium for the tests)
set -euo pipefail
venv="${1:-.venv}"
for_tests="${2:-}"
python="${PYTHON:-python3}"

need_apt=()
# pyzbar loads libzbar at import time; Debian ships it as libzbar0.
ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0' || need_apt+=(libzbar0)
"$python" -c 'import ensurepip, venv' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [[ "$for_tests" == "--test" ]]; then
    # The hub's tests run on a real PostgreSQL; the dashboard and kiosk tests in Chromium.
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need_apt+=(postgresql)
    command -v chromium >/dev/null || need_apt+=(chromium fonts-noto-cjk)
    command -v faketime >/dev/null || need_apt+=(faketime)  # doctor's clock-in-1970 test
    command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)  # the kiosk's spoken prompts
    # The daily report's PDF is set in Noto Sans CJK (also the screens' font).
    [[ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ]] || need_apt+=(fonts-noto-cjk)
fi

if ((${#need_apt[@]})); then
    echo "bootstrap: installing system packages: ${need_apt[*]}"
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "bootstrap: creating $venv"
    "$python" -m venv "$venv"
fi
# The demo runs gate and hub on one machine: both extras; the tests add their tools.
extras="edge,hub"
[[ "$for_tests" == "--test" ]] && extras="edge,hub,test"
# Only one OpenCV wheel may own cv2: the contrib build replaced the plain one (the WeChat
# QR models need it), so an older environment drops the plain wheel first.
if "$venv/bin/python" -m pip show -q opencv-python-headless >/dev/null 2>&1; then
    "$venv/bin/python" -m pip uninstall -y -q opencv-python-headless
fi
echo "bootstrap: installing gatecheck[$extras] into $venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e ".[$extras]"
