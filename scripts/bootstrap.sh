# Sourced by scripts/run.sh and scripts/test.sh: create .venv and install the
# pinned requirements into it under constraints.txt (every transitive version),
# skipping pip when nothing changed.
# Usage: . scripts/bootstrap.sh requirements.txt|requirements-dev.txt
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
REQUIREMENTS="${1:-requirements.txt}"
PYTHON="${PYTHON:-python3}"
VENV="${IMPERAL_VENV:-$ROOT/.venv}"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "imperal-platform needs Python 3.11 or newer ($PYTHON is $("$PYTHON" -V 2>&1))" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtualenv $VENV"
  "$PYTHON" -m venv "$VENV"
fi
stamp="$VENV/.installed-$(cat requirements*.txt constraints.txt | sha256sum | cut -c1-16)"
# requirements-dev.txt includes requirements.txt, so either stamp serves the latter.
if [ ! -f "$stamp-$REQUIREMENTS" ] && { [ "$REQUIREMENTS" != requirements.txt ] ||
     [ ! -f "$stamp-requirements-dev.txt" ]; }; then
  echo "==> installing $REQUIREMENTS"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS" -c constraints.txt
  touch "$stamp-$REQUIREMENTS"
fi
export PATH="$VENV/bin:$PATH"
export PYTHONDONTWRITEBYTECODE=1
