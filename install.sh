#!/usr/bin/env bash
# Installs snnbench and every backend that PyPI and Debian provide, into the Python 3.11 that
# runs it (the active virtual environment if there is one). Idempotent: run it again to repair.
#
#   bash install.sh
#
# Order matters: torch 2.13.0 (the CPU build) goes first, so that nothing later pulls the
# CUDA builds; bindsnet goes last, without its declared dependencies (it asks for torch >= 2.14).
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3.11}
pip_install() { "$PYTHON" -m pip install --disable-pip-version-check -q "$@"; }

# 1. Debian packages: a C++ toolchain for Brian2's, GeNN's and ANNarchy's generated code (cmake:
#    ANNarchy's build), GSL for Brian2's gsl_rkf45 (its HH_cond_exp: NEST's adaptive RKF45),
#    libffi/pkg-config
#    for building PyGeNN, Chromium to check the HTML reports in the tests, and Slurm with munge
#    for the cluster tests' local single-node Slurm (tests/local_slurm.py starts it; nothing runs
#    until then).
debs=(g++ make cmake libgsl-dev pkg-config libffi-dev chromium slurm-wlm munge)
missing=()
for deb in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "ok installed" || missing+=("$deb")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "install.sh: installing Debian packages: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. torch first: the CPU build of 2.13.0.
echo "install.sh: torch 2.13.0 (CPU)"
pip_install torch==2.13.0

# 3. snnbench with every backend it drives, at the versions in requirements/constraints.txt.
echo "install.sh: snnbench and its backends (pinned by requirements/constraints.txt)"
pip_install -c requirements/constraints.txt -e ".[all]"

# 4. bindsnet without its metadata's dependencies (they would replace the CPU torch);
#    what its modules import was installed in step 3 (extra "bindsnet-deps").
echo "install.sh: bindsnet 0.3.4 (--no-deps)"
pip_install --no-deps -c requirements/constraints.txt bindsnet==0.3.4

# 5. The JavaScript libraries asv's site loads from CDNs, from npm, so that reports/asv works
#    offline (see snnbench/asv_offline.py). Needs node and npm (Debian packages if absent).
if ! command -v npm >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
echo "install.sh: web libraries for the asv site (npm, web/package.json)"
(cd web && npm install --no-audit --no-fund --silent --loglevel=error)

# 6. Make the console script visible to pyenv's shims, then say what is available.
if command -v pyenv >/dev/null 2>&1; then pyenv rehash || true; fi
"$PYTHON" -m snnbench list --backends
