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
"$PY" -m pip install -q --disable-pip-version-check -e ".[test,video]"
"$PY" -m pip install -q --disable-pip-version-check --no-deps "metaworld==3.1.1"
# Headless rendering (`jaxmeta eval --video`, MUJOCO_GL=egl): Mesa's EGL, which renders in software without a GPU.
EGL_PKGS="libegl1 libegl-mesa0 libgl1-mesa-dri"
if ! ldconfig -p 2>/dev/null | grep 'libEGL_mesa\.so' >/dev/null; then  # (no grep -q: pipefail)
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $EGL_PKGS >/dev/null; } \
      || echo "install.sh: could not install $EGL_PKGS: jaxmeta eval --video needs them" >&2
  else
    echo "install.sh: note: jaxmeta eval --video needs EGL: apt-get install $EGL_PKGS" >&2
  fi
fi
"$PY" - <<'PYEOF'
import importlib.metadata as md
for name in ("jax", "mujoco", "mujoco-mjx", "metaworld"):
    print(f"{name}=={md.version(name)}")
PYEOF
