"""Process-level console settings: keep known, harmless noise of the libraries off the terminal.

`configure_console()` is called on import of `envs` (and therefore of `jaxmeta`), right after
`envs._runtime.configure_xla()`, before JAX or MuJoCo is imported. It does two things:

- XLA's C++ log level. XLA's slow-compilation alarm (``xla/service/slow_operation_alarm.cc``) writes a
  ``Very slow compile?  If you want to file a bug ...`` banner at ERROR level to stderr whenever one
  backend compile passes 2 minutes (a compiled-in constant; no XLA flag changes it), and again
  ("The operation took ...") when that compile ends. Long MJX compiles are expected here, so we set
  ``TF_CPP_MIN_LOG_LEVEL=3`` (XLA's C++ logger then only writes FATAL messages; it reads the variable
  once, when jaxlib is loaded). Errors still reach you as Python exceptions (e.g. ``XlaRuntimeError``)
  and fatal C++ errors still print; what is hidden are C++ INFO/WARNING/ERROR log lines. Set
  ``TF_CPP_MIN_LOG_LEVEL`` yourself (e.g. ``1``, JAX's default, or ``0``) to see them: a value you set
  is never changed. Nothing is changed either when jaxlib was already imported (too late to matter).
- MuJoCo's MJX ``print``\\ s ``Failed to import warp: No module named 'warp'`` and ``Failed to import
  mujoco_warp: No module named 'warp'`` when it is imported without the optional Warp backend (which
  envs never uses). An import hook drops exactly these two lines while ``mujoco.mjx.warp`` is being
  imported; anything else it prints (e.g. an installed but broken Warp) passes through.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import io
import os
import re
import sys

XLA_LOG_ENV = "TF_CPP_MIN_LOG_LEVEL"
XLA_LOG_LEVEL = "3"  # FATAL only: hides the slow-compile banner (LOG(ERROR)), see the module docstring
WARP_MODULE = "mujoco.mjx.warp"
# the two lines mujoco/mjx/warp/__init__.py prints when the optional `warp` package is not installed
WARP_NOISE = re.compile(r"Failed to import (warp|mujoco_warp): No module named 'warp'\r?")


def configure_console() -> None:
    """Apply both settings of the module docstring (idempotent)."""
    quiet_xla_log()
    quiet_warp_import()


def quiet_xla_log() -> bool:
    """Set TF_CPP_MIN_LOG_LEVEL=3 unless it is set or jaxlib is already loaded. Returns True if set."""
    if XLA_LOG_ENV in os.environ or "jaxlib" in sys.modules or "jax" in sys.modules:
        return False
    os.environ[XLA_LOG_ENV] = XLA_LOG_LEVEL
    return True


class _LineFilter(io.TextIOBase):
    """A text stream forwarding whole lines to `target`, except those matching `drop`."""

    def __init__(self, target, drop: re.Pattern):
        self._target, self._drop, self._buf = target, drop, ""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        self._buf += s
        *lines, self._buf = self._buf.split("\n")
        for line in lines:
            if not self._drop.fullmatch(line):
                self._target.write(line + "\n")
        return len(s)

    def flush(self) -> None:
        self._target.flush()

    def finish(self) -> None:
        if self._buf and not self._drop.fullmatch(self._buf):
            self._target.write(self._buf)
        self._buf = ""


class _QuietLoader:
    """Runs the wrapped loader with stdout filtered (other attributes are the wrapped loader's)."""

    def __init__(self, loader):
        self._loader = loader

    def __getattr__(self, name):
        return getattr(self._loader, name)

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        if sys.stdout is None:
            return self._loader.exec_module(module)
        out = _LineFilter(sys.stdout, WARP_NOISE)
        try:
            with contextlib.redirect_stdout(out):
                self._loader.exec_module(module)
        finally:
            out.finish()


class _QuietWarpFinder(importlib.abc.MetaPathFinder):
    """Finds `mujoco.mjx.warp` with the other finders and wraps its loader in `_QuietLoader`."""

    def find_spec(self, fullname, path, target=None):
        if fullname != WARP_MODULE:
            return None
        for finder in sys.meta_path:
            if finder is self or isinstance(finder, _QuietWarpFinder) or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _QuietLoader(spec.loader)
                return spec
        return None


def quiet_warp_import() -> bool:
    """Install the import hook (once; not if mujoco.mjx.warp is already imported). Returns True if installed."""
    if WARP_MODULE in sys.modules or any(isinstance(f, _QuietWarpFinder) for f in sys.meta_path):
        return False
    sys.meta_path.insert(0, _QuietWarpFinder())
    return True
