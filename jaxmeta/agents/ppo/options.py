"""`PPOConfig`: PPO's hyper-parameters (`TrainConfig.ppo`), validated on construction; no JAX import, so
`jaxmeta.config` can hold it without loading the algorithm."""

from __future__ import annotations

import dataclasses
import math

__all__ = ["PPOConfig"]


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO hyper-parameters (static, hashable). Defaults follow the PPO paper's MuJoCo setting (Table 3)
    and the common continuous-control implementations (advantage normalisation, grad clip 0.5)."""

    num_skills: int = 1
    discount: float = 0.99
    gae_lambda: float = 0.95
    clip_eps: float = 0.2
    value_clip_eps: float | None = None  # None: unclipped value loss
    value_coef: float = 0.5
    entropy_coef: float = 0.0
    learning_rate: float = 3e-4
    adam_eps: float = 1e-5
    anneal_updates: int | None = None  # None: constant learning rate
    num_epochs: int = 10
    num_minibatches: int = 32
    max_grad_norm: float | None = 0.5  # global-norm clip; None: no clipping
    normalize_advantages: bool = True
    normalize_obs: bool = True
    obs_clip: float | None = 10.0  # clip of normalised observations; None: no clipping
    reward_scale: float = 1.0

    def __post_init__(self):
        def number(name, allow_none=False):
            value = getattr(self, name)
            if allow_none and value is None:
                return None
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"PPOConfig.{name} must be a finite number, got {value!r}")
            return value

        def positive_int(name, allow_none=False):
            value = getattr(self, name)
            if allow_none and value is None:
                return
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"PPOConfig.{name} must be a positive int, got {value!r}")

        for name in ("discount", "gae_lambda"):
            if not 0.0 <= number(name) <= 1.0:
                raise ValueError(f"PPOConfig.{name} must be in [0, 1], got {getattr(self, name)!r}")
        for name in ("clip_eps", "learning_rate", "adam_eps"):
            if number(name) <= 0.0:
                raise ValueError(f"PPOConfig.{name} must be > 0, got {getattr(self, name)!r}")
        for name in ("value_clip_eps", "max_grad_norm", "obs_clip"):
            value = number(name, allow_none=True)
            if value is not None and value <= 0.0:
                raise ValueError(f"PPOConfig.{name} must be > 0 or None, got {value!r}")
        for name in ("value_coef", "entropy_coef"):
            if number(name) < 0.0:
                raise ValueError(f"PPOConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        if number("reward_scale") == 0.0:
            raise ValueError(f"PPOConfig.reward_scale must be non-zero, got {self.reward_scale!r}")
        for name in ("num_skills", "num_epochs", "num_minibatches"):
            positive_int(name)
        positive_int("anneal_updates", allow_none=True)
        for name in ("normalize_advantages", "normalize_obs"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"PPOConfig.{name} must be a bool, got {getattr(self, name)!r}")
