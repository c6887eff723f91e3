"""Training configuration: frozen dataclasses, presets and validation (no JAX compile, no env build).

    cfg = preset("mt1-fast")                                 # the main job: MT1/reach-v3, a few CPU minutes
    cfg = preset("mt10", seed=1, per=True)                   # PaCo Table VI hyper-parameters on MT10
    cfg = TrainConfig(benchmark="toy/2", total_steps=2000)   # tiny pure-JAX env (tests)
    cfg.to_dict() / TrainConfig.from_dict(d)                 # JSON round trip (stored with checkpoints)

Units. Every ``*_steps`` / ``*_every`` count is in *env steps summed over all envs* (one batched step
of ``num_envs = num_skills * envs_per_skill`` envs is ``num_envs`` env steps), as in the papers.

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

Benchmarks: any `envs.benchmark` name (``"MT1/<skill>"``, ``"MT10"``, ``"ML10"``, ...) or ``"toy/<n>"``
(the pure-JAX point-reach env of `envs.toy`, for tests). ``split`` picks the train (default) or test task
sets (ML1: held-out instances of the skill; ML10/ML45: held-out skills; toy/<n>: the next n toy skills);
``task_indices`` keeps only some rand_vec rows of every skill (e.g. one held-out ML1 instance).
``conditioning_skills`` names the conditioning skill space when it is larger than the env's skills (fine-tuning on
new skills keeps the source's skill ids and appends the new ones: `jaxmeta.finetune`).

Algorithms live in the open registry `jaxmeta.algos.ALGOS` (``register_algo``; re-exported here):
``mtsac`` (one-hot skill input) and ``mhsac`` (one output head per skill). ``algo`` fixes
``network.conditioning``; ``network.num_skills`` and ``sac.num_skills`` are filled in from the benchmark,
so they need not be set by hand.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

from jaxmeta.algos import ALGOS, AlgoSpec, register_algo  # noqa: F401  (re-exported: their old home)
from jaxmeta.benchmark_names import (  # noqa: F401  (re-exported: their old home)
    SPLIT_NAMES,
    _int_tuple,
    _is_int,
    benchmark_skills,
    check_ported,
)
from jaxmeta.finetune_options import FinetuneConfig  # noqa: F401  (re-exported: its old home)
from jaxmeta.networks import NetworkConfig
from jaxmeta.agents.paco.options import PaCoOptions, validate_paco_options
from jaxmeta.agents.reptile.options import ReptileConfig
from jaxmeta.agents.ppo.options import PPOConfig
from jaxmeta.agents.rl2.options import RL2Options
from jaxmeta.agents.pearl.options import PEARLOptions, check_task_capacity
from jaxmeta.sac import SACConfig

#: algorithms trained on-policy (their own rollout loop, `TrainConfig.ppo` settings; no replay)
ON_POLICY = ("ppo", "rl2")
#: tasks in every Meta-World skill's task set (and the toy env's); `task_indices` may take fewer
TASKS_PER_SKILL = 50
#: how evaluations act (`TrainConfig.eval_policy`): the Gaussian's mean, or a sample as in training
EVAL_POLICIES = ("mean", "sample")

__all__ = [
    "ALGOS",
    "AlgoSpec",
    "EVAL_POLICIES",
    "FinetuneConfig",
    "PRESETS",
    "TrainConfig",
    "benchmark_skills",
    "preset",
    "register_algo",
]


# ------------------------------------------------------------------------------------------------ config


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
    split: str = "train"  # task sets the envs run: "train" or "test" (ML held-out instances / skills)
    task_indices: tuple[int, ...] | None = None  # restrict every skill's task set to these rand_vec rows
    # skills naming the conditioning skill ids (one-hot slots / heads / per-skill alpha / replay skill ids);
    # None = the env skills. Fine-tuning: the source's skill space, then the new skills (see finetune.py)
    conditioning_skills: tuple[str, ...] | None = None
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
    balanced: bool = False  # skill-balanced sampling (B / num_skills per skill); exclusive with per
    n_step: int = 1  # replay loop: store n-step returns (jaxmeta.nstep; truncated at episode ends)
    # learner
    network: NetworkConfig = NetworkConfig(hidden=(256, 256))
    sac: SACConfig = SACConfig(actor_lr=1e-3, critic_lr=1e-3, alpha_lr=1e-3)
    reptile: ReptileConfig = ReptileConfig()  # algo "reptile" only (inner_steps, meta_batch, outer_lr)
    # algo "ppo" only: clip, GAE lambda, epochs, minibatches, ... (one update per rollout of
    # steps_per_update batched env steps; its own discount / learning rate)
    ppo: PPOConfig = PPOConfig()
    rl2: RL2Options = RL2Options()  # algo "rl2" only: episodes per trial, network widths (PPO settings: ppo)
    # algo "pearl" only: latent size, KL weight, encoder, episodes per task, meta-batch, context batch
    pearl: PEARLOptions = PEARLOptions()
    finetune: FinetuneConfig | None = None  # set by jaxmeta.finetune for a fine-tuning run
    paco: PaCoOptions = PaCoOptions()  # algos "paco" / "taco" only (K, threshold, task sampling, transfer)
    # evaluation, logging, checkpoints
    eval_every: int = 16_000  # 0: only at the end
    eval_episodes: int = 20  # per skill
    # the policy evaluations (and `jaxmeta eval`) act with: "mean" (deterministic: tanh(mean), the Gaussian's
    # mean) or "sample" (the stochastic policy, as in training; RL2's exploration within a trial is sampled)
    eval_policy: str = "mean"
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
        ppo = _nested(self.ppo, PPOConfig, "ppo", "a PPOConfig")
        object.__setattr__(self, "rl2", _nested(self.rl2, RL2Options, "rl2", "an RL2Options"))
        object.__setattr__(self, "pearl", _nested(self.pearl, PEARLOptions, "pearl", "a PEARLOptions"))

        if not isinstance(self.algo, str) or self.algo not in ALGOS:
            raise ValueError(f"unknown algo {self.algo!r}; known algorithms: {sorted(ALGOS)}")
        if self.split not in SPLIT_NAMES:
            raise ValueError(f"TrainConfig.split must be one of {SPLIT_NAMES}, got {self.split!r}")
        skills = benchmark_skills(self.benchmark, self.split)
        self._post_init_tasks_meta(skills)
        T = self.num_skills
        net = dataclasses.replace(net, num_skills=T, conditioning=ALGOS[self.algo].conditioning)
        sac = dataclasses.replace(sac, num_skills=T)
        object.__setattr__(self, "network", net)
        object.__setattr__(self, "sac", sac)
        object.__setattr__(self, "ppo", dataclasses.replace(ppo, num_skills=T))
        object.__setattr__(self, "paco", validate_paco_options(self.paco, self.skill_space, self.algo))
        if net.layer_norm != "none" and self.algo in ("paco", "taco"):
            raise ValueError(
                f"TrainConfig.network.layer_norm={net.layer_norm!r} is for the SAC networks; algo "
                f"{self.algo!r} uses PaCo's compositional networks: leave it 'none'"
            )
        if self.algo == "taco":  # TaCo draws batches by task probabilities: needs the per-skill replay
            if self.per is True:
                raise ValueError("algo 'taco' samples tasks by TrainConfig.paco.task_sampling; it cannot use per")
            object.__setattr__(self, "balanced", True)

        def pos_int(name, minimum=1):
            v = getattr(self, name)
            if not _is_int(v) or v < minimum:
                raise ValueError(f"TrainConfig.{name} must be an int >= {minimum}, got {v!r}")
            object.__setattr__(self, name, int(v))

        if not _is_int(self.seed) or self.seed < 0:
            raise ValueError(f"TrainConfig.seed must be a non-negative int, got {self.seed!r}")
        for name in (
            "num_seeds",
            "envs_per_skill",
            "max_path_length",
            "total_steps",
            "updates_per_step",
            "steps_per_update",
            "chunk_steps",
            "batch_size",
            "buffer_capacity",
            "eval_episodes",
            "keep_checkpoints",
            "n_step",
        ):
            pos_int(name)
        for name in ("warmup_steps", "eval_every", "checkpoint_every"):
            pos_int(name, 0)
        if self.eval_policy not in EVAL_POLICIES:
            raise ValueError(f"TrainConfig.eval_policy must be one of {EVAL_POLICIES}, got {self.eval_policy!r}")
        for name in ("per", "balanced"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"TrainConfig.{name} must be a bool, got {getattr(self, name)!r}")
        for name in ("per_alpha", "per_beta"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real) or not 0.0 <= float(v) <= 1.0:
                raise ValueError(f"TrainConfig.{name} must be in [0, 1], got {v!r}")
        if self.per and self.balanced:
            raise ValueError("TrainConfig.per and TrainConfig.balanced are exclusive: choose one sampler")
        if self.algo in ON_POLICY:
            self._check_on_policy()
        if self.algo == "pearl":
            self._check_pearl()
        if self.n_step > self.max_path_length:
            raise ValueError(f"TrainConfig.n_step ({self.n_step}) must be <= max_path_length ({self.max_path_length})")
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

    def _check_on_policy(self) -> None:
        """algos "ppo" / "rl2": one update per rollout of steps_per_update batched env steps, no replay, no
        warm-up; the minibatches must split the rollout (PPO: its samples; RL2: its envs' sequences)."""
        a = self.algo
        why = f"algo {a!r} is on-policy (one update per rollout of steps_per_update batched env steps; --preset {a})"
        for name in ("per", "balanced"):
            if getattr(self, name):
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r}: {why}; it has no replay buffer")
        if self.n_step != 1:
            raise ValueError(f"TrainConfig.n_step={self.n_step}: {why}; its returns are GAE's (ppo.gae_lambda)")
        if self.warmup_steps:
            raise ValueError(f"TrainConfig.warmup_steps must be 0 for algo {a!r}, got {self.warmup_steps}: {why}")
        if self.updates_per_step != 1:
            raise ValueError(
                f"TrainConfig.updates_per_step must be 1 for algo {a!r}, got {self.updates_per_step}: {why}; "
                f"set the rollout length with steps_per_update (--rollout-length) and the Adam steps per update "
                f"with ppo.num_epochs x ppo.num_minibatches"
            )
        if a == "rl2":
            if self.num_envs % self.ppo.num_minibatches:
                raise ValueError(
                    f"algo 'rl2': the {self.num_envs} envs' sequences do not split into ppo.num_minibatches = "
                    f"{self.ppo.num_minibatches} equal minibatches"
                )
            return
        samples = self.num_envs * self.steps_per_update
        if samples % self.ppo.num_minibatches:
            raise ValueError(
                f"algo 'ppo': a rollout's {self.num_envs} envs x {self.steps_per_update} steps = {samples} samples "
                f"do not split into ppo.num_minibatches = {self.ppo.num_minibatches} equal minibatches"
            )

    def _check_pearl(self) -> None:
        """algo "pearl": its own per-task replay (no per / balanced / n-step); the batch splits over the
        meta-batch; every task's ring holds at least one step of every env (`jaxmeta.agents.pearl.train`)."""
        why = "algo 'pearl' samples its own per-task replay (--preset pearl)"
        for name in ("per", "balanced"):
            if getattr(self, name):
                raise ValueError(f"TrainConfig.{name}={getattr(self, name)!r}: {why}")
        if self.n_step != 1:
            raise ValueError(f"TrainConfig.n_step={self.n_step}: {why}; it stores 1-step transitions")
        M = self.pearl.meta_batch
        if self.batch_size % M:
            raise ValueError(
                f"algo 'pearl': batch_size {self.batch_size} does not split into pearl.meta_batch = {M} tasks "
                f"(batch_size / meta_batch transitions per task)"
            )
        tasks = len(self.skills) * (len(self.task_indices) if self.task_indices is not None else TASKS_PER_SKILL)
        check_task_capacity(self.buffer_capacity, tasks, self.num_envs)

    def _post_init_tasks_meta(self, skills: tuple[str, ...]) -> None:
        """Validate / normalise split-related fields and the nested reptile / finetune configs."""
        object.__setattr__(self, "task_indices", _int_tuple(self.task_indices, "TrainConfig.task_indices"))
        if self.task_indices is not None and max(self.task_indices) >= TASKS_PER_SKILL:
            raise ValueError(
                f"TrainConfig.task_indices must be < {TASKS_PER_SKILL} (tasks per skill), got {self.task_indices!r}"
            )
        ts = self.conditioning_skills
        if ts is not None:
            if isinstance(ts, str) or not all(isinstance(x, str) for x in ts) or len(set(ts)) != len(tuple(ts)):
                raise ValueError(f"TrainConfig.conditioning_skills must be distinct skill names or None, got {ts!r}")
            ts = tuple(ts)
            missing = [x for x in skills if x not in ts]
            if missing:
                raise ValueError(f"TrainConfig.conditioning_skills {ts} lacks the env skill(s) {missing}")
            object.__setattr__(self, "conditioning_skills", None if ts == skills else ts)
        rep = _nested(self.reptile, ReptileConfig, "reptile", "a ReptileConfig")
        for name in ("inner_steps", "meta_batch"):
            if not _is_int(getattr(rep, name)):
                raise ValueError(f"TrainConfig.reptile.{name} must be an int, got {getattr(rep, name)!r}")
        if isinstance(rep.outer_lr, bool) or not isinstance(rep.outer_lr, numbers.Real):
            raise ValueError(f"TrainConfig.reptile.outer_lr must be a number in [0, 1], got {rep.outer_lr!r}")
        object.__setattr__(self, "reptile", rep)
        if self.algo == "reptile":
            if self.per:
                raise ValueError(
                    "TrainConfig.per is not supported with algo 'reptile' (its inner loops sample "
                    "per-skill batches uniformly from a skill-balanced buffer)"
                )
            object.__setattr__(self, "balanced", True)  # per-skill sampling needs the balanced buffer
        ft = (
            None
            if self.finetune is None
            else _nested(self.finetune, FinetuneConfig, "finetune", "a FinetuneConfig or None")
        )
        if ft is not None and self.skill_space[: len(ft.source_skills)] != ft.source_skills:
            raise ValueError(
                f"fine-tuning skill space {self.skill_space} must start with the source's {ft.source_skills}"
            )
        object.__setattr__(self, "finetune", ft)

    # ---------------------------------------------------------------------------- derived quantities
    @property
    def skills(self) -> tuple[str, ...]:
        """The skills the envs run (the benchmark's `split`)."""
        return benchmark_skills(self.benchmark, self.split)

    @property
    def skill_space(self) -> tuple[str, ...]:
        """Skills naming the conditioning skill ids 0..num_skills-1 (`conditioning_skills`, default the env skills)."""
        return self.conditioning_skills if self.conditioning_skills is not None else self.skills

    @property
    def skill_ids(self) -> tuple[int, ...]:
        """Conditioning skill id of each env skill."""
        space = self.skill_space
        return tuple(space.index(s) for s in self.skills)

    @property
    def num_skills(self) -> int:
        """Size of the conditioning skill space (network one-hot / heads, per-skill alpha, replay ids)."""
        return len(self.skill_space)

    @property
    def num_envs(self) -> int:
        return len(self.skills) * self.envs_per_skill

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
    def eval_episode_steps(self) -> int:
        """Env steps of one evaluated episode: ``max_path_length``, or a whole trial (RL2; PEARL's episodes
        of one task)."""
        trial = {"rl2": self.rl2.episodes_per_trial, "pearl": self.pearl.episodes_per_task}.get(self.algo, 1)
        return self.max_path_length * trial

    @property
    def learning_starts(self) -> int:
        """Env steps before the first update: in the buffer before the first SAC update (replay loop), or
        the warm-up (an algorithm with its own loop, `AlgoSpec.loop`: PPO learns from its first rollout)."""
        if ALGOS[self.algo].loop is not None:
            return self.warmup_steps
        return max(self.warmup_steps, self.batch_size)

    @property
    def total_updates(self) -> int:
        """Upper bound on SAC updates in the run (drives the PER beta schedule)."""
        iters = self.num_chunks * self.iters_per_chunk
        return max(1, iters * self.updates_per_step)

    @property
    def replay_kind(self) -> str:
        """The replay sampler, or the data store of an algorithm with its own loop (`AlgoSpec.replay_kind`:
        "on-policy" for PPO / RL2, "per-task" for PEARL)."""
        if ALGOS[self.algo].loop is not None:
            return ALGOS[self.algo].replay_kind or "on-policy"
        return "prioritized" if self.per else "balanced" if self.balanced else "uniform"

    @property
    def run_name(self) -> str:
        bench = self.benchmark.replace("/", "-") + ("" if self.split == "train" else f"-{self.split}")
        extra = "-per" if self.per else "-bal" if (self.balanced and self.algo != "reptile") else ""
        ft = "ft-" if self.finetune is not None else ""
        return f"{ft}{bench}-{self.algo}{extra}-seed{self.seed}"

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
        d["pearl"]["encoder_hidden"] = list(d["pearl"]["encoder_hidden"])
        d["paco"] = self.paco.to_dict()
        for k in ("task_indices", "conditioning_skills"):  # JSON-like (lists), as config.json reads back
            d[k] = None if d[k] is None else list(d[k])
        if d["finetune"] is not None:
            ft = d["finetune"]
            ft["source_skills"] = list(ft["source_skills"])
            ft["source_task_indices"] = None if ft["source_task_indices"] is None else list(ft["source_task_indices"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """From `to_dict`'s form (config.json), also as written before the task -> skill renames."""
        d = migrate_config_dict(d)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {sorted(unknown)}")
        return cls(**d)

    def replace(self, **changes) -> "TrainConfig":
        """`dataclasses.replace`, also accepting ``network=dict(...)``/``sac=dict(...)`` partial updates
        and dotted keys (``**{"sac.discount": 0.95}``)."""
        pac = {k.split(".", 1)[1]: changes.pop(k) for k in list(changes) if k.startswith("paco.")}
        if isinstance(changes.get("paco"), dict):
            pac.update(changes.pop("paco"))
        if pac:
            bad = set(pac) - {f.name for f in dataclasses.fields(PaCoOptions)}
            if bad:
                raise ValueError(f"unknown PaCoOptions field(s) {sorted(bad)}")
            changes["paco"] = dataclasses.replace(changes.get("paco", self.paco), **pac)
        net, sac = dict(), dict()
        for sub in ("reptile", "ppo", "rl2", "pearl"):
            vals = {k.split(".", 1)[1]: changes.pop(k) for k in list(changes) if k.startswith(sub + ".")}
            if isinstance(changes.get(sub), dict):
                vals.update(changes.pop(sub))
            if vals:
                try:
                    changes[sub] = dataclasses.replace(changes.get(sub, getattr(self, sub)), **vals)
                except TypeError as e:
                    raise ValueError(f"TrainConfig.{sub}: {e}") from None
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


def _nested(value, cls, name: str, what: str):
    """A nested config field as `cls`: a dict (a JSON round trip) is built into one (ValueError naming the
    field for an unknown key); anything else not a `cls` is a ValueError naming `what` was expected."""
    if isinstance(value, dict):
        try:
            value = cls(**value)
        except TypeError as e:
            raise ValueError(f"TrainConfig.{name}: {e}") from None
    if not isinstance(value, cls):
        raise ValueError(f"TrainConfig.{name} must be {what}, got {value!r}")
    return value


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

# The main job (`jaxmeta train` with no --preset; docs/results.md "MT1/reach-v3: the main job's recipe"): the
# `default` preset storing 3-step returns (jaxmeta.nstep; FastTD3, Seo et al. 2025) with a LayerNorm before
# every hidden ReLU of the critics (RLPD, Ball et al. 2023; BRO, Nauman et al. 2024). MT1/reach-v3, 3 seeds:
# eval success 0.93 at 32k env steps where `default` had 0.13 (0.90 at 56k).
PRESETS["mt1-fast"] = PRESETS["default"].replace(
    n_step=3, network=NetworkConfig(hidden=(256, 256), layer_norm="critic")
)

# MT10 with many parallel envs (issue 16's MT10 recipe; docs/results.md "MT10: one multi-task SAC run with
# 80 parallel envs"): 8 envs per skill, 8 updates of a skill-balanced batch of 512 per batched env step
# (replay ratio 1/10), 3x256 networks with a LayerNorm before every hidden ReLU of the critics (RLPD, Ball
# et al. 2023; BRO, Nauman et al. 2024), lr 3e-4, 500-step episodes, 40k random warm-up steps, 1M buffer.
PRESETS["mt10-fast"] = PRESETS["default"].replace(
    benchmark="MT10",
    envs_per_skill=8,
    max_path_length=500,
    total_steps=2_000_000,
    warmup_steps=40_000,
    updates_per_step=8,
    chunk_steps=40_000,
    batch_size=512,
    buffer_capacity=1_000_000,
    balanced=True,
    network=NetworkConfig(hidden=(256, 256, 256), layer_norm="critic"),
    sac=dict(actor_lr=3e-4, critic_lr=3e-4, alpha_lr=3e-4),
    eval_every=400_000,
    eval_episodes=10,
    checkpoint_every=400_000,
)

# PPO (Schulman et al. 2017) on MT1/reach-v3 (the starting point of `jaxmeta train --algo ppo`): 64 envs,
# rollouts of 32 batched steps (2,048 samples), 10 epochs of 8 minibatches of 256, clip 0.2, GAE lambda
# 0.95, discount 0.99, lr 3e-4, 2x256 ReLU policy (Gaussian, clipped actions) and value networks,
# observation normalisation, 200-step episodes.
PRESETS["ppo"] = PRESETS["default"].replace(
    algo="ppo",
    envs_per_skill=64,
    warmup_steps=0,
    updates_per_step=1,
    steps_per_update=32,
    total_steps=1_000_000,
    chunk_steps=40_960,
    eval_every=204_800,
    checkpoint_every=204_800,
    ppo=dict(num_minibatches=8),
)

# RL2 (Duan et al. 2016) on ML1/reach-v3's train tasks: 64 envs, trials of 2 episodes of 200 steps (the
# hidden state carries over both), rollouts of 100 batched steps, recurrent PPO with 10 epochs over 8 groups
# of 8 envs' sequences, rewards x 0.1 for the update (the value head shares the GRU trunk: unscaled 400-step
# trial returns made the value loss dominate it; docs/results.md), GRU 256; meta-test with --split test
# (held-out tasks), no gradient step.
PRESETS["rl2"] = PRESETS["default"].replace(
    benchmark="ML1/reach-v3",
    algo="rl2",
    envs_per_skill=64,
    warmup_steps=0,
    updates_per_step=1,
    steps_per_update=100,
    total_steps=2_000_000,
    chunk_steps=51_200,
    eval_every=204_800,
    eval_episodes=20,
    checkpoint_every=204_800,
    ppo=dict(num_minibatches=8, num_epochs=10, reward_scale=0.1),
)

# PEARL (Rakelly et al. 2019) on ML1/reach-v3's train tasks: 16 envs, 2 episodes of 200 steps per task (the
# first with z from the prior, the second from the posterior), 2 updates per batched step, each on a
# meta-batch of 8 tasks x 64 transitions with 64 context transitions per task, latent 5, KL weight 0.1,
# encoder 3x200, 2x256 SAC networks, lr 3e-4; 8k random warm-up steps; a ring of 20k transitions per task.
# (4 updates of 8 x 128 ran at ~70 env-steps/s on the shared 2-core CPU: too slow to study here.)
PRESETS["pearl"] = PRESETS["default"].replace(
    benchmark="ML1/reach-v3",
    algo="pearl",
    envs_per_skill=16,
    updates_per_step=2,
    total_steps=1_000_000,
    warmup_steps=8_000,
    chunk_steps=16_000,
    batch_size=512,
    buffer_capacity=1_000_000,
    sac=dict(actor_lr=3e-4, critic_lr=3e-4, alpha_lr=3e-4),
    pearl=dict(meta_batch=8, context_batch=64),
    eval_every=100_000,
    eval_episodes=20,
    checkpoint_every=100_000,
)

# PaCo / TaCo (paper 002) on MT10: Table VI (batch 1280, 10 envs, 3x400, lr 3e-4, discount 0.99, episode
# length 150, 1500 x 10 exploration env steps, buffer 1e6) + Table VII (K = 5, loss threshold 3e3, w lr
# 3e-4 = actor/critic lr) + the official code's alpha lr 1e-4 and log-alpha clamp [-10, 0]
# (PaCoOptions defaults). Skill-balanced replay (B/T per skill: the structured fast path; the official
# ALF buffer draws each sample's env uniformly, i.e. B/T per skill in expectation). 20M env steps.
PRESETS["paco-mt10"] = PRESETS["mt10"].replace(
    algo="paco", max_path_length=150, balanced=True, sac=dict(alpha_lr=1e-4), paco=PaCoOptions()
)
# TaCo (paper 002, Table II): pick-place, peg-insert-side and drawer-open sampled twice as often.
PRESETS["taco-mt10"] = PRESETS["paco-mt10"].replace(
    algo="taco",
    paco=PaCoOptions(task_sampling="weighted", upweighted_skills=("pick-place", "peg-insert-side", "drawer-open")),
)
# TaCo-online: DBSCAN groups of the task parameters theta_t, re-balanced every 500k env steps.
PRESETS["taco-online-mt10"] = PRESETS["paco-mt10"].replace(
    algo="taco", paco=PaCoOptions(task_sampling="online", online_every=500_000)
)


#: Config fields renamed since runs were first saved (old name -> new), top level and per nested config;
#: `migrate_config_dict` reads the old names, so saved runs keep resuming (docs/glossary.md).
RENAMED_CONFIG_FIELDS = {"task_skills": "conditioning_skills"}
RENAMED_NESTED_FIELDS = {"network": {"num_tasks": "num_skills"}, "sac": {"num_tasks": "num_skills"}}


def migrate_config_dict(d: dict) -> dict:
    """A copy of a saved config dict with `RENAMED_CONFIG_FIELDS` / `RENAMED_NESTED_FIELDS` under their new
    names (a dict holding both the old and the new name of a field is refused: ValueError naming both)."""

    def renamed(x: dict, names: dict, where: str) -> dict:
        x = dict(x)
        for old, new in names.items():
            if old in x:
                if new in x:
                    raise ValueError(f"config has both {where}{old!r} and its new name {where}{new!r}")
                x[new] = x.pop(old)
        return x

    d = renamed(d, RENAMED_CONFIG_FIELDS, "")
    for k, names in RENAMED_NESTED_FIELDS.items():
        if isinstance(d.get(k), dict):
            d[k] = renamed(d[k], names, f"{k}.")
    return d


def preset(name: str, **overrides) -> TrainConfig:
    """A preset with overrides (`TrainConfig.replace` semantics: ``sac=dict(...)``, dotted keys ok)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; presets: {sorted(PRESETS)}")
    return PRESETS[name].replace(**overrides) if overrides else PRESETS[name]
