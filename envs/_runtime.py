"""Process-level JAX/XLA settings that must be in place before JAX initialises its backend.

XLA's CPU "fusion emitters" (default on since JAX 0.7) make MJX kinematics of the Sawyer arm ~1000x
slower (2.2 s vs 1.8 ms per physics step, measured with JAX 0.10.2 on a 2-core CPU) and compile ~3x
slower. The flag below turns them off. It only names the CPU backend, so it is harmless on GPU/TPU.

`configure_xla()` is called on import of `envs` (and therefore of `jaxmeta`). XLA reads XLA_FLAGS once,
when the first backend is created; if a backend already exists we warn instead of silently doing nothing.
Set JAXMETA_KEEP_XLA_FLAGS=1 to leave XLA_FLAGS untouched.
"""
from __future__ import annotations

import os
import sys
import warnings

CPU_FUSION_FLAG = "--xla_cpu_use_fusion_emitters=false"
DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "jaxmeta", "xla")


def _backend_initialised() -> bool:
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge
    except Exception:  # pragma: no cover - private API moved
        return False
    return bool(getattr(xla_bridge, "_backends", None))


def configure_xla() -> bool:
    """Append the CPU fusion-emitter flag to XLA_FLAGS unless already present.

    Returns True if the flag is (now) in effect for this process's backend.
    """
    if os.environ.get("JAXMETA_KEEP_XLA_FLAGS") == "1":
        return CPU_FUSION_FLAG.split("=")[0] in os.environ.get("XLA_FLAGS", "")
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_use_fusion_emitters" in flags:
        return True
    if _backend_initialised():
        warnings.warn(
            "JAX's backend was initialised before jaxmeta/envs could set "
            f"XLA_FLAGS={CPU_FUSION_FLAG}; MJX on CPU will run ~1000x slower. "
            "Import envs/jaxmeta before running any JAX computation, or export the flag.",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    os.environ["XLA_FLAGS"] = (flags + " " + CPU_FUSION_FLAG).strip()
    return True


def enable_compilation_cache(path: str | None = None) -> str:
    """Turn on JAX's persistent compilation cache (used by tests and the CLI). Returns the directory."""
    import jax

    path = path or os.environ.get("JAXMETA_CACHE_DIR") or DEFAULT_CACHE_DIR
    os.makedirs(path, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", path)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    return path
