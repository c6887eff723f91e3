#!/usr/bin/env bash
# The accelerator check of docs/throughput.md: MT10 and MT50 env throughput at 256 / 1024 / 4096 envs per skill,
# one training chunk each, peak device memory. From the repository root on the accelerator machine:
#   bash experiments/gpu_check.sh [extra gpu_check.py flags]
# Python: $PY, else .venv/bin/python, else python3 (an image with CUDA JAX, e.g. the lent H200's). Packages the
# image lacks (mujoco, mujoco-mjx, metaworld, gymnasium, ...) travel as wheels in .whl/ (docs/throughput.md says
# how to download them); they are installed into /tmp/site first. Writes $OUT/gpu_check.json (or ./).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${PY:-}" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:.${PYTHONPATH:+:$PYTHONPATH}
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null || true
exec "$PY" experiments/gpu_check.py --json "${OUT:-.}/gpu_check.json" "$@"
