#!/usr/bin/env bash
# Install rain-vtuber on another Python from pyenv (default 3.13) in a venv of its own, then run
# scripts/smoke.py with it. pip takes torch 2.13 from the index (the CUDA build on Linux, a few GB).
#   bash scripts/smoke-other-python.sh 3.13          # venv in .venv-3.13 (reused on the next run)
# Without that Python: a failure in CI (CI set), a skip with the reason elsewhere.
set -euo pipefail
version="${1:-3.13}"
cd "$(dirname "$0")/.."
root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
python="$(ls -d "$root"/versions/"$version"*/bin/python 2>/dev/null | sort -V | tail -n 1 || true)"
if [ -z "$python" ]; then
    echo "smoke-other-python: no Python $version under $root/versions (install it: pyenv install $version)" >&2
    [ -n "${CI:-}" ] && exit 1
    echo "smoke-other-python: skipped (not CI)" >&2
    exit 0
fi
venv="$(realpath -m "${SMOKE_VENV:-.venv-$version}")"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/pip" install -q torch==2.13.0
# the package and only what the smoke run itself uses (the full test extra would add minutes)
"$venv/bin/pip" install -q -e ".[smoke]"
PATH="$venv/bin:$PATH" "$venv/bin/python" scripts/smoke.py
