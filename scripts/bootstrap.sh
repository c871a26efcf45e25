#!/usr/bin/env bash
# Set up a fresh Debian machine for gatecheck: system libraries, a virtualenv, the project.
# Idempotent: re-running only installs what is missing. Usage: bootstrap.sh [VENV_DIR]
set -euo pipefail
venv="${1:-.venv}"
python="${PYTHON:-python3}"

need_apt=()
# pyzbar loads libzbar at import time; Debian ships it as libzbar0.
ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0' || need_apt+=(libzbar0)
"$python" -m venv --help >/dev/null 2>&1 || need_apt+=(python3-venv)
"$python" -c 'import ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)

if ((${#need_apt[@]})); then
    echo "bootstrap: installing system packages: ${need_apt[*]}"
    if [[ $(id -u) -ne 0 ]]; then
        sudo=sudo
    else
        sudo=
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

if [[ ! -x "$venv/bin/python" ]]; then
    echo "bootstrap: creating $venv"
    "$python" -m venv "$venv"
fi
echo "bootstrap: installing gatecheck into $venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'
