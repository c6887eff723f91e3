"""Process-level JAX/XLA settings that must be in place before JAX initialises its backend.

XLA's CPU "fusion emitters" (default on since JAX 0.7) make MJX kinematics of the Sawyer arm about 1000x
slower and compile slower (docs/startup.md). The flag below turns them off. It only names the CPU backend, so it is harmless on GPU/TPU.

XLA:CPU runs one device's computation on about one core, so `configure_xla()` also asks for one host
device per CPU core (`--xla_force_host_platform_device_count`); the trainer and the env benchmarks shard
the env batch over them. `JAXMETA_CPU_DEVICES=<n>` chooses another count; an explicit
`--xla_force_host_platform_device_count` in XLA_FLAGS wins over both. The flag only concerns the host
platform: on a GPU / TPU backend `jax.devices()` is unchanged.

`configure_xla()` is called on import of `envs` (and therefore of `jaxmeta`). XLA reads XLA_FLAGS once,
when the first backend is created; if a backend already exists we warn instead of silently doing nothing.
Set JAXMETA_KEEP_XLA_FLAGS=1 to leave XLA_FLAGS untouched.
"""

from __future__ import annotations

import os
import sys
import warnings

CPU_FUSION_FLAG = "--xla_cpu_use_fusion_emitters=false"
HOST_DEVICES_FLAG = "--xla_force_host_platform_device_count"
CPU_DEVICES_ENV = "JAXMETA_CPU_DEVICES"
DEFAULT_CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "jaxmeta", "xla")


def _backend_initialised() -> bool:
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge
    except Exception:  # pragma: no cover - private API moved
        return False
    return bool(getattr(xla_bridge, "_backends", None))


def cpu_device_count() -> int:
    """Host devices to create: `JAXMETA_CPU_DEVICES` if set, else the CPU cores this process may use."""
    raw = os.environ.get(CPU_DEVICES_ENV)
    if raw is not None and raw.strip():
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if n < 1:
            raise ValueError(f"{CPU_DEVICES_ENV} must be a positive integer, got {raw!r}")
        return n
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def configure_xla() -> bool:
    """Append the CPU fusion-emitter flag and one host device per core (`cpu_device_count`) to XLA_FLAGS,
    each unless already present.

    Returns True if the fusion flag is (now) in effect for this process's backend.
    """
    if os.environ.get("JAXMETA_KEEP_XLA_FLAGS") == "1":
        return CPU_FUSION_FLAG.split("=")[0] in os.environ.get("XLA_FLAGS", "")
    flags = os.environ.get("XLA_FLAGS", "")
    add = []
    if HOST_DEVICES_FLAG not in flags:
        add.append(f"{HOST_DEVICES_FLAG}={cpu_device_count()}")
    fusion_set = "xla_cpu_use_fusion_emitters" in flags
    if not fusion_set:
        add.append(CPU_FUSION_FLAG)
    if not add:
        return True
    if _backend_initialised():
        if fusion_set:
            return True
        warnings.warn(
            "JAX's backend was initialised before jaxmeta/envs could set "
            f"XLA_FLAGS={CPU_FUSION_FLAG}; MJX on CPU will run ~1000x slower. "
            "Import envs/jaxmeta before running any JAX computation, or export the flag.",
            RuntimeWarning,
            stacklevel=3,
        )
        return False
    os.environ["XLA_FLAGS"] = " ".join([flags] + add).strip()
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
