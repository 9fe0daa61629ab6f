#!/usr/bin/env bash
# Collect the wheels that the lent GPU machine (no network; Python 3.12, torch 2.11 + triton,
# transformers, safetensors, huggingface_hub, numpy, onnx, onnxruntime, opencv-python-headless,
# pillow, pyyaml, typer, rich, tqdm, filelock already there) lacks, into the git-ignored .whl/,
# so one call can carry them (the checkout itself travels, run with PYTHONPATH=$PWD). No torch. Stops if the folder is over the 60 MiB budget.
#   scripts/collect-device-wheels.sh [DIR]      (default .whl)
# On the machine: python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
set -euo pipefail
dest="${1:-.whl}"
mkdir -p "$dest"
packages=(
  diffusers importlib_metadata          # the UNet/VAE blocks (importlib_metadata: diffusers' own import)
  python-osc                            # VMC source and the control port
  ndi-python                            # NDI output and the receiver of the daemon check
  pydantic pydantic-core annotated-types typing-inspection  # daemon config
  mss                                   # imported by the screen source module
)
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64 manylinux_2_31_x86_64 manylinux_2_35_x86_64; do
  platforms+=(--platform "$p")
done
for pkg in "${packages[@]}"; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d "$dest" "$pkg"
done
size=$(du -sm "$dest" | cut -f1)
ls -1 "$dest"
echo "$dest: ${size} MiB"
if [ "$size" -ge 60 ]; then
  echo "over the 60 MiB budget" >&2
  exit 1
fi
