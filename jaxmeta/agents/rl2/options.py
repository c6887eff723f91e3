"""`RL2Options` (`TrainConfig.rl2`): RL2's trial length and recurrent network size; no JAX import. Its PPO
settings are `TrainConfig.ppo`'s."""

from __future__ import annotations

import dataclasses

__all__ = ["RL2Options"]


@dataclasses.dataclass(frozen=True)
class RL2Options:
    """episodes_per_trial: episodes of one task the hidden state carries over (RL2's trial; 2 in Duan et
    al. 2016's MDP experiments); hidden: width of the input layer; gru: the GRU's width; init_log_std:
    the policy's initial log standard deviation."""

    episodes_per_trial: int = 2
    hidden: int = 256
    gru: int = 256
    init_log_std: float = 0.0

    def __post_init__(self):
        for name in ("episodes_per_trial", "hidden", "gru"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"RL2Options.{name} must be a positive int, got {v!r}")
        v = self.init_log_std
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not -5.0 <= v <= 2.0:
            raise ValueError(f"RL2Options.init_log_std must be a number in [-5, 2], got {v!r}")
