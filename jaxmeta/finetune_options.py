"""`FinetuneConfig`: where a fine-tuning run comes from (`jaxmeta.finetune` fills it in; a run's
`TrainConfig.finetune`, None on a run from scratch)."""

from __future__ import annotations

import dataclasses

from jaxmeta.benchmark_names import SPLIT_NAMES, _int_tuple, _is_int

__all__ = ["FinetuneConfig"]


@dataclasses.dataclass(frozen=True)
class FinetuneConfig:
    """Where a fine-tuning run comes from (`jaxmeta.finetune` fills it in; None on a run from scratch).

    source: the source run directory (read only, never written). step: its checkpoint (env steps).
    seed_index: which seed of a multi-seed source. keep_buffer: start from the source's replay buffer
    (re-added oldest first into this run's buffer) instead of an empty one. source_*: the source's task
    set (benchmark, split, task_indices, algo, skills = its conditioning skill space, a prefix of this
    run's), evaluated during fine-tuning to measure forgetting when eval_source.
    """

    source: str = ""
    step: int = 0
    seed_index: int = 0
    keep_buffer: bool = False
    source_benchmark: str = ""
    source_split: str = "train"
    source_task_indices: tuple[int, ...] | None = None
    source_algo: str = "mtsac"
    source_skills: tuple[str, ...] = ()
    eval_source: bool = True

    def __post_init__(self):
        object.__setattr__(
            self, "source_task_indices", _int_tuple(self.source_task_indices, "FinetuneConfig.source_task_indices")
        )
        object.__setattr__(self, "source_skills", tuple(self.source_skills))
        if not isinstance(self.source, str) or not self.source:
            raise ValueError(f"FinetuneConfig.source must be a run directory path, got {self.source!r}")
        for name in ("step", "seed_index"):
            v = getattr(self, name)
            if not _is_int(v) or v < 0:
                raise ValueError(f"FinetuneConfig.{name} must be a non-negative int, got {v!r}")
        for name in ("keep_buffer", "eval_source"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"FinetuneConfig.{name} must be a bool, got {getattr(self, name)!r}")
        if self.source_split not in SPLIT_NAMES:
            raise ValueError(f"FinetuneConfig.source_split must be one of {SPLIT_NAMES}, got {self.source_split!r}")
        if not self.source_skills:
            raise ValueError("FinetuneConfig.source_skills must list the source run's skill space")
