#!/usr/bin/env bash
# Install rain-vtuber on other Pythons from pyenv (default 3.13), each in a venv of its own, then run
# the NDI compatibility tests and scripts/smoke.py with it. pip takes torch 2.13 from the index (the
# CUDA build on Linux, a few GB): each Python's torch and its dependencies are first downloaded into one
# wheel folder (.wheelhouse, or SMOKE_WHEELHOUSE), so the CUDA libraries, the same files for every
# Python, come down once whatever the HTTP cache does.
#   bash scripts/smoke-other-python.sh 3.10 3.12 3.13   # venvs in .venv-3.10, ... (reused on the next run)
# Without one of these Pythons: a failure in CI (CI set), a skip with the reason elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- 3.13
root="$(pyenv root 2>/dev/null || echo "${PYENV_ROOT:-$HOME/.pyenv}")"
wheels="$(realpath -m "${SMOKE_WHEELHOUSE:-.wheelhouse}")"
for version in "$@"; do
    python="$(ls -d "$root"/versions/"$version"*/bin/python 2>/dev/null | sort -V | tail -n 1 || true)"
    if [ -z "$python" ]; then
        echo "smoke-other-python: no Python $version under $root/versions (install it: pyenv install $version)" >&2
        [ -n "${CI:-}" ] && exit 1
        echo "smoke-other-python: $version skipped (not CI)" >&2
        continue
    fi
    venv="$(realpath -m ".venv-$version")"
    [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
    "$venv/bin/pip" download -q -d "$wheels" torch==2.13.0
    "$venv/bin/pip" install -q --no-index --find-links "$wheels" torch==2.13.0
    # the package and only what the smoke run itself uses (the full test extra would add minutes)
    "$venv/bin/pip" install -q -e ".[smoke]"
    "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/outputs/test_ndi_compat.py
    PATH="$venv/bin:$PATH" "$venv/bin/python" scripts/smoke.py
done
