"""Test setup: XLA CPU flag before JAX starts, persistent compilation cache, hypothesis profile."""

import os

import envs  # noqa: F401  (sets XLA_FLAGS before the JAX backend starts)
from envs._runtime import enable_compilation_cache

enable_compilation_cache()

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "jaxmeta",
    deadline=None,
    max_examples=int(os.environ.get("HYPOTHESIS_MAX_EXAMPLES", "25")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("jaxmeta")
