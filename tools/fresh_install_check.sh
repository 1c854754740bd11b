#!/usr/bin/env bash
# A learner's install, checked the way Colab does it: the committed tree (git archive HEAD) is
# installed for real, not editable, into a fresh venv of the Python you name, and every notebook
# then runs in smoke mode from a folder outside the repository, with a user folder of its own.
#
# Usage:  tools/fresh_install_check.sh PYTHON [DIR]
#   PYTHON  the interpreter to test, e.g. python3.13 or /usr/bin/python3.12
#   DIR     where the venv, the copy and the notebook runs go (default: a new temporary folder)
# TORCH=torch==2.13.0 by default (as in the Makefile); TORCH= lets pip choose.
#
# It downloads the dependencies for that Python (several GB: PyPI's torch for a Python without
# a local wheel is a CUDA build), so it is not part of `make test`; tests/test_packaging.py runs
# the same install on this venv's Python with the dependencies borrowed.
set -euo pipefail
PYTHON=${1:?usage: tools/fresh_install_check.sh PYTHON [DIR]}
DIR=${2:-$(mktemp -d)}
TORCH=${TORCH-torch==2.13.0}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$DIR/src" "$DIR/work" "$DIR/user"

git -C "$ROOT" archive HEAD | tar -x -C "$DIR/src"
"$PYTHON" -m venv "$DIR/venv"
PIP=("$DIR/venv/bin/python" -m pip install --quiet)
if [ -n "$TORCH" ]; then "${PIP[@]}" "$TORCH"; fi
"${PIP[@]}" "$DIR/src" pytest nbmake ipykernel
cp "$ROOT"/notebooks/*.ipynb "$DIR/work/"

cd "$DIR/work"
"$DIR/venv/bin/python" - <<'EOF'
import sys, kart_helpers, torch, retro, tianshou
print(f"Python {sys.version.split()[0]}; kart_helpers from {kart_helpers.__file__}")
print(f"torch {torch.__version__}, stable-retro {retro.__version__.strip()}, tianshou {tianshou.__version__}")
EOF
KART_SMOKE=1 KART_INTEGRATIONS="$DIR/user" "$DIR/venv/bin/python" -m pytest -p no:cacheprovider \
    --nbmake --nbmake-timeout=600 ./*.ipynb
echo "all notebooks ran from a non-editable install on $("$DIR/venv/bin/python" --version); files in $DIR"
