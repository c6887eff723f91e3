"""`ReptileConfig` (``TrainConfig.reptile``): the options of Reptile over SAC, validated on construction.

Options only (no JAX import), so `jaxmeta.config` can hold them without importing the algorithm.
"""

from __future__ import annotations

import dataclasses

__all__ = ["ReptileConfig"]


@dataclasses.dataclass(frozen=True)
class ReptileConfig:
    """inner_steps k (SAC updates per task per outer step), meta_batch M (tasks per outer step),
    outer_lr eps in [0, 1] (1 = replace theta by the mean of the adapted parameters)."""

    inner_steps: int = 10
    meta_batch: int = 5
    outer_lr: float = 0.1

    def __post_init__(self):
        for name in ("inner_steps", "meta_batch"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool):
                raise ValueError(f"{name} must be an int, got {v!r}")
        if isinstance(self.outer_lr, bool) or not isinstance(self.outer_lr, (int, float)):
            raise ValueError(f"outer_lr must be a number in [0, 1], got {self.outer_lr!r}")
        if self.inner_steps < 1:
            raise ValueError(f"inner_steps must be >= 1, got {self.inner_steps}")
        if self.meta_batch < 1:
            raise ValueError(f"meta_batch must be >= 1, got {self.meta_batch}")
        if not 0.0 <= self.outer_lr <= 1.0:
            raise ValueError(f"outer_lr must be in [0, 1], got {self.outer_lr}")
