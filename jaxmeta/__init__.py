"""jaxmeta: on-device multi-task and meta-RL (SAC, PER, PaCo/TaCo, Reptile) for Meta-World on MJX."""

import envs as _envs  # noqa: F401  (XLA flags must be set before JAX initialises)

__version__ = "0.1.0"
