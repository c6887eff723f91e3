"""`PEARLOptions` (`TrainConfig.pearl`): PEARL's latent size, KL weight, encoder network and learning rate, and
how the trainer meta-trains it (episodes per task, meta-batch, context batch); no JAX import."""

from __future__ import annotations

import dataclasses

__all__ = ["PEARLOptions", "check_task_capacity"]


def check_task_capacity(buffer_capacity: int, tasks: int, envs: int) -> int:
    """The transitions per task of a `buffer_capacity` split over `tasks` rings; ValueError when a ring holds
    fewer than the `envs` rows one batched step may add to it (the trainer's adds must stay distinct)."""
    capacity = buffer_capacity // tasks
    if capacity < envs:
        raise ValueError(
            f"algo 'pearl': buffer_capacity {buffer_capacity} over the run's {tasks} tasks leaves {capacity} "
            f"transitions per task, fewer than the {envs} envs (raise buffer_capacity to >= {tasks * envs})"
        )
    return capacity


@dataclasses.dataclass(frozen=True)
class PEARLOptions:
    """latent_dim: size of z (PEARL: 5); kl_weight: beta of the KL term (0.1); encoder_hidden: the
    encoder MLP (3 x 200); encoder_lr: its Adam rate (3e-4); use_next_obs: the context transition includes
    the next observation (PEARL's default: (s, a, r) only).

    In the trainer (``--algo pearl``): episodes_per_task: episodes an env runs on one task before it draws
    another (the first acts with z from the prior, each next with z from the posterior of the task's
    transitions so far; evaluation counts the last one, like an RL2 trial); meta_batch: tasks per update
    (PEARL: 16); context_batch: context transitions per task and update (garage's Meta-World PEARL: 64).
    The RL batch is ``TrainConfig.batch_size`` transitions in all, ``batch_size / meta_batch`` per task."""

    latent_dim: int = 5
    kl_weight: float = 0.1
    encoder_hidden: tuple[int, ...] = (200, 200, 200)
    encoder_lr: float = 3e-4
    use_next_obs: bool = False
    episodes_per_task: int = 2
    meta_batch: int = 16
    context_batch: int = 64

    def __post_init__(self):
        for name in ("latent_dim", "episodes_per_task", "meta_batch", "context_batch"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"PEARLOptions.{name} must be a positive int, got {v!r}")
        hidden = tuple(self.encoder_hidden)
        if not hidden or not all(isinstance(h, int) and not isinstance(h, bool) and h > 0 for h in hidden):
            raise ValueError(f"PEARLOptions.encoder_hidden must be positive ints, got {self.encoder_hidden!r}")
        object.__setattr__(self, "encoder_hidden", hidden)
        for name in ("kl_weight", "encoder_lr"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= 0.0:
                raise ValueError(f"PEARLOptions.{name} must be a number >= 0, got {v!r}")
        if self.encoder_lr == 0.0:
            raise ValueError("PEARLOptions.encoder_lr must be > 0")
        if not isinstance(self.use_next_obs, bool):
            raise ValueError(f"PEARLOptions.use_next_obs must be a bool, got {self.use_next_obs!r}")
