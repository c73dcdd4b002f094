#!/usr/bin/env bash
# Create (or update) the project's virtual environment and install everything in the one order that works:
#   1. torch + torchvision           (TORCH_SPEC / TORCH_INDEX_URL pick the build for your machine)
#   2. basicsr 1.4.2 without build isolation and without its deps (its sdist's setup.py imports torch;
#      its own requirements would pull tb-nightly beside tensorboard)
#   3. our requirements, then this package in editable mode.
# Usage: bash scripts/install.sh [VENV_DIR]        (default .venv; PYTHON=python3.12 picks the interpreter, 3.10-3.12)
# CPU only (no CUDA libraries, ~1.9 GB instead of ~6 GB):
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash scripts/install.sh
# GPU machines (see README, "Install"):
#   x86_64 + CUDA:      TORCH_INDEX_URL=https://download.pytorch.org/whl/cu128 TORCH_SPEC="torch torchvision" bash scripts/install.sh
#   GB10 / DGX Spark:   TORCH_INDEX_URL=https://download.pytorch.org/whl/cu130 TORCH_SPEC="torch torchvision" bash scripts/install.sh
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${1:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_SPEC=${TORCH_SPEC:-"torch==2.14.1 torchvision==0.29.1"}

pip_install() {
  # pip's output is kept quiet unless it fails; then all of it is shown and the script stops.
  local log
  log=$(mktemp)
  if ! "$VENV/bin/python" -m pip --disable-pip-version-check install -q "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "install.sh: 'pip install $*' failed" >&2
    exit 1
  fi
  rm -f "$log"
}

require_supported_python() {
  # basicsr 1.4.2 and our pinned torch wheels are tested on Python 3.10-3.12; stop before the slow installs.
  local version
  version=$("$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null) || version=unknown
  case "$version" in
    3.10|3.11|3.12) ;;
    *)
      echo "install.sh: $1 is Python $version; realestate_sr needs Python 3.10-3.12." >&2
      echo "install.sh: choose one with PYTHON=python3.12 bash scripts/install.sh${2:+ (and remove $2, made with Python $version)}" >&2
      exit 1 ;;
  esac
}

if [ -x "$VENV/bin/python" ]; then
  require_supported_python "$VENV/bin/python" "$VENV"
else
  require_supported_python "$PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
pip_install --upgrade pip setuptools wheel
if [ -n "${TORCH_INDEX_URL:-}" ]; then
  pip_install $TORCH_SPEC --index-url "$TORCH_INDEX_URL"
else
  pip_install $TORCH_SPEC
fi
pip_install cython numpy
pip_install --no-build-isolation --no-deps basicsr==1.4.2
pip_install -r requirements.txt -r requirements-test.txt
pip_install --no-build-isolation --no-deps -e .
# Debian's chromium renders the evaluation report in its test (tests/test_evaluation); optional elsewhere.
if [ "${SKIP_APT:-0}" != 1 ] && ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "install.sh: installing Debian's chromium for the HTML report test (SKIP_APT=1 skips this)"
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/tmp/realestate_sr_apt.log 2>&1; then
    echo "install.sh: chromium could not be installed (see /tmp/realestate_sr_apt.log); the report test will be skipped" >&2
  fi
fi
"$VENV/bin/python" -c "import realestate_sr, basicsr, torch; print(f'installed realestate_sr {realestate_sr.__version__}, basicsr {basicsr.__version__}, torch {torch.__version__} in $VENV')"
