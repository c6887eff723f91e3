#!/usr/bin/env bash
# Reproducible install into ./.venv (or into $JAXMETA_PYTHON's environment if set).
#
# metaworld 3.1.1 pins mujoco==3.3.0, which conflicts with the mujoco/mujoco-mjx 3.16.0 pair this project
# needs (mjx 3.3.0 breaks under JAX 0.10). metaworld runs with mujoco 3.3.0-3.16.0, so we install the
# project's pinned set first and then metaworld with --no-deps; its remaining runtime deps are pinned in
# pyproject.toml. envs.metaworld_compat checks the installed versions at import time.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${JAXMETA_PYTHON:-}
if [ -z "$PY" ]; then
  [ -x .venv/bin/python ] || python3 -m venv .venv
  PY=.venv/bin/python
fi
"$PY" -m pip install -q --disable-pip-version-check --upgrade pip
"$PY" -m pip install -q --disable-pip-version-check -e ".[test]"
"$PY" -m pip install -q --disable-pip-version-check --no-deps "metaworld==3.1.1"
"$PY" - <<'PYEOF'
import importlib.metadata as md
for name in ("jax", "mujoco", "mujoco-mjx", "metaworld"):
    print(f"{name}=={md.version(name)}")
PYEOF
