"""`PEARLOptions`: PEARL's latent size, KL weight, encoder network and learning rate; no JAX import."""

from __future__ import annotations

import dataclasses

__all__ = ["PEARLOptions"]


@dataclasses.dataclass(frozen=True)
class PEARLOptions:
    """latent_dim: size of z (PEARL: 5); kl_weight: beta of the KL term (0.1); encoder_hidden: the
    encoder MLP (3 x 200); encoder_lr: its Adam rate (3e-4); use_next_obs: the context transition includes
    the next observation (PEARL's default: (s, a, r) only)."""

    latent_dim: int = 5
    kl_weight: float = 0.1
    encoder_hidden: tuple[int, ...] = (200, 200, 200)
    encoder_lr: float = 3e-4
    use_next_obs: bool = False

    def __post_init__(self):
        if not isinstance(self.latent_dim, int) or isinstance(self.latent_dim, bool) or self.latent_dim < 1:
            raise ValueError(f"PEARLOptions.latent_dim must be a positive int, got {self.latent_dim!r}")
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
