"""Training configuration: frozen dataclasses, presets and validation (no JAX compile, no env build).

    cfg = preset("default")                                  # MT1/reach-v3, small nets, a few CPU minutes
    cfg = preset("mt10", seed=1, per=True)                   # PaCo Table VI hyper-parameters on MT10
    cfg = TrainConfig(benchmark="toy/2", total_steps=2000)   # tiny pure-JAX env (tests)
    cfg.to_dict() / TrainConfig.from_dict(d)                 # JSON round trip (stored with checkpoints)

Units. Every ``*_steps`` / ``*_every`` count is in *env steps summed over all envs* (one batched step
of ``num_envs = num_tasks * envs_per_skill`` envs is ``num_envs`` env steps), as in the papers.

The jitted chunk is a scan over *iterations*; one iteration is ``steps_per_update`` batched env steps
followed by ``updates_per_step`` SAC updates, i.e. ``updates_per_step / steps_per_update`` gradient
updates per batched env step (the replay ratio; ``updates_per_step=1, steps_per_update=4`` gives 1/4,
``updates_per_step=4, steps_per_update=1`` gives 4). The CLI accepts it as ``--updates-per-step 1/4``.

Rounding (all documented, all deterministic):

- a chunk is ``iters_per_chunk = ceil(chunk_steps / (num_envs * steps_per_update))`` iterations, so it
  holds ``env_steps_per_chunk`` >= ``chunk_steps`` env steps;
- training runs ``num_chunks = ceil(total_steps / env_steps_per_chunk)`` chunks (so at least
  ``total_steps``);
- warm-up: a batched step uses uniform random actions while fewer than ``warmup_steps`` env steps have
  been taken; SAC updates start once ``max(warmup_steps, batch_size)`` env steps are in the buffer;
- evaluation / checkpointing happen at the first chunk boundary at or after every multiple of
  ``eval_every`` / ``checkpoint_every`` (0 = only at the end), and always after the last chunk.

Benchmarks: any `envs.benchmark` name (``"MT1/<skill>"``, ``"MT10"``, ``"ML10"``, ...; ML names train on
their train split) or ``"toy/<n>"`` (the pure-JAX point-reach env of `envs.toy`, for tests).

Algorithms live in the open registry `ALGOS` (``register_algo``): ``mtsac`` (one-hot task input) and
``mhsac`` (one output head per task). ``algo`` fixes ``network.conditioning``; ``network.num_tasks`` and
``sac.num_tasks`` are filled in from the benchmark, so they need not be set by hand.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import re
from typing import Any, Callable

from jaxmeta.networks import NetworkConfig
from jaxmeta.sac import SACConfig

__all__ = [
    "ALGOS",
    "AlgoSpec",
    "PRESETS",
    "TrainConfig",
    "benchmark_skills",
    "preset",
    "register_algo",
]


# ------------------------------------------------------------------------------------------ algorithms
@dataclasses.dataclass(frozen=True)
class AlgoSpec:
    """A training algorithm known to the trainer.

    conditioning: the `NetworkConfig.conditioning` it uses.
    learner: factory ``(config: TrainConfig, buffer: ReplayBuffer | None, constrain_batch=None) ->
        jaxmeta.learner.Learner``, or its import path ``"module:function"`` (resolved on first use, so
        registering an algorithm imports nothing heavy). Building a learner must not touch the buffer
        (the networks of a saved run are rebuilt with ``buffer=None``).
    """

    name: str
    conditioning: str
    description: str = ""
    learner: Any = "jaxmeta.learner:make_sac_learner"

    def make_learner(self, config: "TrainConfig", buffer: Any = None, constrain_batch: Any = None):
        factory = self.learner
        if isinstance(factory, str):
            import importlib

            module, _, fn = factory.partition(":")
            factory = getattr(importlib.import_module(module), fn)
        return factory(config, buffer, constrain_batch)


ALGOS: dict[str, AlgoSpec] = {}


def register_algo(spec: AlgoSpec) -> AlgoSpec:
    """Add (or replace) an algorithm in the registry; returns it."""
    if not isinstance(spec, AlgoSpec) or not spec.name:
        raise ValueError(f"register_algo needs an AlgoSpec with a name, got {spec!r}")
    ALGOS[spec.name] = spec
    return spec


register_algo(AlgoSpec("mtsac", "onehot", "multi-task SAC, one-hot task id appended to the inputs"))
register_algo(AlgoSpec("mhsac", "multihead", "multi-head SAC, shared trunk, one output head per task"))


# ------------------------------------------------------------------------------------------ benchmarks
_TOY = re.compile(r"^toy/(\d+)$")


def benchmark_skills(name: str) -> tuple[str, ...]:
    """Training skills of a benchmark name, without building it (no metaworld import).

    Raises ValueError (envs.benchmarks' message, listing the valid names) for an unknown name.
    """
    m = _TOY.match(name) if isinstance(name, str) else None
    if m:
        n = int(m.group(1))
        if n < 1:
            raise ValueError(f"toy benchmark needs >= 1 skill, got {name!r}")
        return tuple(f"toy-{i}" for i in range(n))
    if isinstance(name, str) and name.startswith("toy"):
        raise ValueError(f"toy benchmark names are 'toy/<num_skills>', e.g. 'toy/2'; got {name!r}")
    from envs.benchmarks import SPLITS, _parse_name

    try:
        kind, skill = _parse_name(name)
    except ValueError as e:
        raise ValueError(f"{e} (or 'toy/<n>' for the pure-JAX test env)") from None
    if skill is not None:
        return (skill,)
    return tuple(SPLITS[kind][0])


def check_ported(name: str) -> None:
    """Raise ValueError if a training skill of benchmark `name` has no MJX port yet (cheap: imports
    the skill modules only, builds nothing)."""
    if name.startswith("toy/"):
        return
    import importlib.util

    from envs.skills import _MODULES

    missing = [
        s for s in benchmark_skills(name) if s not in _MODULES or importlib.util.find_spec(_MODULES[s]) is None
    ]
    if missing:
        ported = sorted(s for s, m in _MODULES.items() if importlib.util.find_spec(m) is not None)
        raise ValueError(f"benchmark {name!r} needs skill(s) {missing} not ported to MJX yet; ported: {ported}")


# ------------------------------------------------------------------------------------------------ config
def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (static: hashable, JSON-serialisable).

    Defaults are the ``default`` preset (MT1/reach-v3 on a small CPU). See the module docstring for
    the units and rounding of step counts.
    """

    # what to train
    benchmark: str = "MT1/reach-v3"
    algo: str = "mtsac"
    seed: int = 0  # PRNG seed; also the seed of the benchmark's task sets (envs.benchmark(name, seed))
    num_seeds: int = 1  # independent runs vmapped in one compiled program (seed i uses fold_in(seed, i))
    # environment
    envs_per_skill: int = 8
    max_path_length: int = 200  # episode length (truncation; metaworld's is 500)
    # schedule (env steps summed over all envs)
    total_steps: int = 120_000
    warmup_steps: int = 4_000  # uniform random actions before this many env steps
    updates_per_step: int = 2  # SAC updates per iteration ...
    steps_per_update: int = 1  # ... of this many batched env steps (replay ratio = the quotient)
    chunk_steps: int = 8_000  # env steps per jitted chunk (rounded up to whole iterations)
    # replay
    batch_size: int = 128
    buffer_capacity: int = 250_000
    per: bool = False  # prioritized replay (Schaul et al.), IS-weighted losses, priorities = |TD|
    per_alpha: float = 0.6
    per_beta: float = 0.4  # IS exponent at the start, annealed linearly to 1 over the run's updates
    balanced: bool = False  # task-balanced sampling (B / num_tasks per task); exclusive with per
    # learner
    network: NetworkConfig = NetworkConfig(hidden=(256, 256))
    sac: SACConfig = SACConfig(actor_lr=1e-3, critic_lr=1e-3, alpha_lr=1e-3)
    # evaluation, logging, checkpoints
    eval_every: int = 16_000  # 0: only at the end
    eval_episodes: int = 20  # per skill
    checkpoint_every: int = 40_000  # 0: only at the end
    keep_checkpoints: int = 2
    out: str | None = None  # run directory; None -> checkpoints/<run_name>

    def __post_init__(self):
        # accept dicts for the nested configs (JSON round trip) and fill in the derived fields
        net, sac = self.network, self.sac
        if isinstance(net, dict):
            net = NetworkConfig(**net)
        if isinstance(sac, dict):
            sac = SACConfig(**sac)
        if not isinstance(net, NetworkConfig):
            raise ValueError(f"TrainConfig.network must be a NetworkConfig, got {net!r}")
        if not isinstance(sac, SACConfig):
            raise ValueError(f"TrainConfig.sac must be a SACConfig, got {sac!r}")

        if not isinstance(self.algo, str) or self.algo not in ALGOS:
            raise ValueError(f"unknown algo {self.algo!r}; known algorithms: {sorted(ALGOS)}")
        skills = benchmark_skills(self.benchmark)
        T = len(skills)
        net = dataclasses.replace(net, num_tasks=T, conditioning=ALGOS[self.algo].conditioning)
        sac = dataclasses.replace(sac, num_tasks=T)
        object.__setattr__(self, "network", net)
        object.__setattr__(self, "sac", sac)

        def pos_int(name, minimum=1):
            v = getattr(self, name)
            if not _is_int(v) or v < minimum:
                raise ValueError(f"TrainConfig.{name} must be an int >= {minimum}, got {v!r}")
            object.__setattr__(self, name, int(v))

        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"TrainConfig.seed must be a non-negative int, got {self.seed!r}")
        for name in ("num_seeds", "envs_per_skill", "max_path_length", "total_steps", "updates_per_step",
                     "steps_per_update", "chunk_steps", "batch_size", "buffer_capacity", "eval_episodes",
                     "keep_checkpoints"):
            pos_int(name)
        for name in ("warmup_steps", "eval_every", "checkpoint_every"):
            pos_int(name, 0)
        for name in ("per", "balanced"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"TrainConfig.{name} must be a bool, got {getattr(self, name)!r}")
        for name in ("per_alpha", "per_beta"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"TrainConfig.{name} must be in [0, 1], got {v!r}")
        if self.per and self.balanced:
            raise ValueError("TrainConfig.per and TrainConfig.balanced are exclusive: choose one sampler")
        if self.batch_size > self.buffer_capacity:
            raise ValueError(
                f"TrainConfig.batch_size ({self.batch_size}) must be <= buffer_capacity ({self.buffer_capacity})"
            )
        if self.buffer_capacity > 1 << 30:
            raise ValueError(f"TrainConfig.buffer_capacity must be <= 2**30, got {self.buffer_capacity}")
        if self.warmup_steps > self.total_steps:
            raise ValueError(
                f"TrainConfig.warmup_steps ({self.warmup_steps}) must be <= total_steps ({self.total_steps})"
            )
        if self.total_steps >= 2**31 - self.env_steps_per_chunk:
            raise ValueError(f"TrainConfig.total_steps must be < 2**31 (int32 counters), got {self.total_steps}")
        if self.out is not None and (not isinstance(self.out, str) or not self.out):
            raise ValueError(f"TrainConfig.out must be a non-empty path or None, got {self.out!r}")

    # ---------------------------------------------------------------------------- derived quantities
    @property
    def skills(self) -> tuple[str, ...]:
        return benchmark_skills(self.benchmark)

    @property
    def num_tasks(self) -> int:
        return len(self.skills)

    @property
    def num_envs(self) -> int:
        return self.num_tasks * self.envs_per_skill

    @property
    def env_steps_per_iter(self) -> int:
        return self.num_envs * self.steps_per_update

    @property
    def iters_per_chunk(self) -> int:
        return max(1, math.ceil(self.chunk_steps / self.env_steps_per_iter))

    @property
    def env_steps_per_chunk(self) -> int:
        return self.iters_per_chunk * self.env_steps_per_iter

    @property
    def num_chunks(self) -> int:
        return max(1, math.ceil(self.total_steps / self.env_steps_per_chunk))

    @property
    def learning_starts(self) -> int:
        """Env steps in the buffer before the first SAC update."""
        return max(self.warmup_steps, self.batch_size)

    @property
    def total_updates(self) -> int:
        """Upper bound on SAC updates in the run (drives the PER beta schedule)."""
        iters = self.num_chunks * self.iters_per_chunk
        return max(1, iters * self.updates_per_step)

    @property
    def replay_kind(self) -> str:
        return "prioritized" if self.per else "balanced" if self.balanced else "uniform"

    @property
    def run_name(self) -> str:
        bench = self.benchmark.replace("/", "-")
        extra = "-per" if self.per else "-bal" if self.balanced else ""
        return f"{bench}-{self.algo}{extra}-seed{self.seed}"

    @property
    def out_dir(self) -> str:
        return self.out if self.out is not None else f"checkpoints/{self.run_name}"

    def due(self, chunk: int, every: int) -> bool:
        """True if chunk boundary `chunk` (1-based: after `chunk` chunks) is the first at/after a
        multiple of `every` env steps, or the last chunk."""
        if chunk >= self.num_chunks:
            return True
        if every <= 0:
            return False
        e = self.env_steps_per_chunk
        return (chunk * e) // every > ((chunk - 1) * e) // every

    # ------------------------------------------------------------------------------------ (de)serialise
    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["network"]["hidden"] = list(d["network"]["hidden"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {sorted(unknown)}")
        return cls(**d)

    def replace(self, **changes) -> "TrainConfig":
        """`dataclasses.replace`, also accepting ``network=dict(...)``/``sac=dict(...)`` partial updates
        and dotted keys (``**{"sac.discount": 0.95}``)."""
        net, sac = dict(), dict()
        for k in list(changes):
            if k.startswith("network."):
                net[k.split(".", 1)[1]] = changes.pop(k)
            elif k.startswith("sac."):
                sac[k.split(".", 1)[1]] = changes.pop(k)
        if isinstance(changes.get("network"), dict):
            net.update(changes.pop("network"))
        if isinstance(changes.get("sac"), dict):
            sac.update(changes.pop("sac"))
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {sorted(unknown)}")
        for sub, cls_, vals in (("network", NetworkConfig, net), ("sac", SACConfig, sac)):
            if vals:
                bad = set(vals) - {f.name for f in dataclasses.fields(cls_)}
                if bad:
                    raise ValueError(f"unknown {cls_.__name__} field(s) {sorted(bad)}")
                changes[sub] = dataclasses.replace(changes.get(sub, getattr(self, sub)), **vals)
        return dataclasses.replace(self, **changes)


# ------------------------------------------------------------------------------------------------ presets
PRESETS: dict[str, TrainConfig] = {
    # MT1/reach-v3 on a small CPU: 8 envs, 2 SAC updates per batched step (replay ratio 1/4), batch
    # 128, 2x256, lr 1e-3, 200-step episodes, 120k env steps (29k updates). Measured on a shared, loaded
    # 2-core CPU: ~340 env steps/s, ~6 min of training; eval success 0.85 at 64k steps, 0.9-1.0 from
    # 80k, 0.95 at the end (20 deterministic episodes); cold compile 3-5 min, cached ~1.5 min.
    # (lr 3e-4 learned ~2x slower; 16 envs / ratio 1/8 reached 0.9 as fast but evaluated less stably.)
    "default": TrainConfig(),
    # PaCo (paper 002) Table VI on MT10: batch 1280, 3x400, lr 3e-4, discount 0.99, buffer 1e6,
    # one env per skill (10 parallel envs), 1500 exploration (batched) steps, 20M env steps,
    # one update per batched step; episode length 500 (metaworld's).
    "mt10": TrainConfig(
        benchmark="MT10",
        envs_per_skill=1,
        max_path_length=500,
        total_steps=20_000_000,
        warmup_steps=15_000,
        updates_per_step=1,
        steps_per_update=1,
        chunk_steps=50_000,
        batch_size=1280,
        buffer_capacity=1_000_000,
        network=NetworkConfig(hidden=(400, 400, 400)),
        sac=SACConfig(discount=0.99, actor_lr=3e-4, critic_lr=3e-4, alpha_lr=3e-4, tau=0.005),
        eval_every=500_000,
        eval_episodes=10,
        checkpoint_every=1_000_000,
        keep_checkpoints=3,
    ),
}


def preset(name: str, **overrides) -> TrainConfig:
    """A preset with overrides (`TrainConfig.replace` semantics: ``sac=dict(...)``, dotted keys ok)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; presets: {sorted(PRESETS)}")
    return PRESETS[name].replace(**overrides) if overrides else PRESETS[name]
