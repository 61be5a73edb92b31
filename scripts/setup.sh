#!/usr/bin/env bash
# Set up amm_opt on a fresh machine: a virtual environment in .venv with every extra installed.
# Idempotent: a second run only checks. Torch is installed first, as a CPU build unless an NVIDIA
# GPU is visible, because pip would otherwise resolve the package's torch range to a multi-GB CUDA
# build; the package itself keeps a version range.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip install --disable-pip-version-check --quiet)

if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
        echo "setup: NVIDIA GPU found, installing the CUDA build of torch"
        "${pip[@]}" "torch>=2.1"
    else
        echo "setup: no GPU, installing the CPU build of torch"
        "${pip[@]}" "torch==2.13.0" \
            || "${pip[@]}" torch --index-url https://download.pytorch.org/whl/cpu
    fi
fi
"${pip[@]}" -e ".[all,dev]"
echo "setup: done ($(.venv/bin/python -c 'import amm_opt; print("amm_opt", amm_opt.__version__)'))"
