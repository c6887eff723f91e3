"""Meta-World on MuJoCo XLA: pure, jit-able, vmap-able Sawyer manipulation envs."""
from envs._runtime import configure_xla as _configure_xla

_configure_xla()
