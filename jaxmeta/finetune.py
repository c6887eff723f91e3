"""Online fine-tuning of a trained run on held-out tasks (paper 000 Sec. IV-B; paper 001's
"multi-task pretraining + fine-tuning" and Reptile's meta-test adaptation).

    cfg = finetune_config("checkpoints/ml1-reach", benchmark="ML1/reach-v3", task_indices=(0,),
                          total_steps=20_000, out="checkpoints/ml1-reach-ft")   # validates, no compile
    summary = finetune(cfg)            # = jaxmeta.train.train(cfg, hooks=FinetuneHooks(cfg))

What happens (all through `jaxmeta.train.train`, so the run writes the same metrics.csv / summary.json /
learning_curve.png / checkpoints as training and can be resumed with ``finetune(cfg, resume=True)``):

1. The source checkpoint (``--from`` run directory, latest or ``step``) is read with a read-only orbax
   manager; the source directory is never written. Its *full agent state* is restored: actor, critic,
   target critic, per-skill temperature, the three Adam states and the update counter (for a Reptile
   source: the meta-parameters theta, a plain SACState). Optionally its replay buffer too
   (``keep_buffer``): the stored transitions are re-added oldest first to this run's buffer (any kind:
   with PER they enter at max priority, like new transitions), so old tasks keep being replayed while
   the new ones are learned. Otherwise the buffer starts empty.
2. The new run acts with the restored policy from its first step (``warmup_steps`` defaults to 0) and
   does ``updates_per_step`` SAC updates per batched env step (default 1, as paper 000: one gradient step
   per environment interaction) once ``batch_size`` transitions are stored, with uniform or prioritized
   (``per``) replay. A Reptile source is fine-tuned with plain MT-SAC updates (same networks).
3. Evaluation: zero-shot before any update (the eval row of chunk 0), then every ``eval_every`` env
   steps on the new tasks (``eval_success``), and on the source's own training tasks
   (``source_success``, per skill ``source_success/<skill>``) to measure forgetting. The summary adds
   ``zero_shot`` (new and source tasks), ``final_source_eval`` and ``forgetting`` (source success at
   zero shot minus at the end).

Task-id conditioning (the one-hot / head / temperature of each task). Seed 000 appends a one-hot task
id (and a skill id) to the observation, as metaworld's multi-task wrappers do, over the benchmark's
whole task list, so a held-out skill has its own slot that pretraining never trained. We do the same:
the fine-tuning run's skill space (``TrainConfig.conditioning_skills``) is the source's skill space followed by
the new skills it lacks. Skills the source knows keep their id (ML1: the held-out *instances* of the
pretraining skill are presented with that skill's id -- the task instance is not identified, the goal is
hidden in ML benchmarks, so the agent adapts by fine-tuning, not by lookup); new skills (ML10's test
skills) get new ids. Every state leaf whose task axis grows (first-layer one-hot rows of actor and
critics, multi-head heads, per-skill log_alpha, their Adam moments) keeps the source's values for the
old ids and takes the new ids' values from a fresh initialisation, exactly as if the source network had
been built with the larger one-hot and never seen those tasks (their rows get zero gradient). For a
multi-seed source, ``seed_index`` picks the seed; fine-tuning runs one seed.

Cost note: the new tasks' env program is a new XLA compile (task tables are constants of the program).
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmeta.checkpoint import CheckpointError, read_checkpoint
from jaxmeta.config import ALGOS, FinetuneConfig, TrainConfig, benchmark_skills, check_ported
from jaxmeta.interfaces import NoHooks

__all__ = ["FINETUNE_ALGO", "FinetuneHooks", "finetune", "finetune_config", "grow_tasks", "load_source", "readd_replay"]

#: algorithm of the fine-tuning run for a source algorithm (default: the same)
FINETUNE_ALGO = {"reptile": "mtsac"}
DEFAULT_FINETUNE_STEPS = 20_000


# ------------------------------------------------------------------------------------------- config
def finetune_config(
    source: str,
    *,
    benchmark: str,
    split: str | None = None,
    task_indices: tuple[int, ...] | None = None,
    step: int | None = None,
    seed_index: int = 0,
    keep_buffer: bool = False,
    per: bool | None = None,
    balanced: bool | None = None,
    updates_per_step: int | tuple[int, int] = 1,
    total_steps: int | None = None,
    warmup_steps: int = 0,
    eval_every: int | None = None,
    eval_source: bool = True,
    out: str | None = None,
    **overrides,
) -> TrainConfig:
    """The TrainConfig of a fine-tuning run of the run directory `source` (no compile; reads only the
    source's config and checkpoint metadata). Raises ValueError / CheckpointError naming the problem.

    split: default "test" for ML benchmarks (held-out instances / skills), else "train".
    updates_per_step: SAC updates per batched env step, an int or a ratio ``(updates, steps)``.
    total_steps: fine-tuning env steps (default 20k). eval_every: default total_steps / 10.
    overrides: other TrainConfig fields (envs_per_skill, eval_episodes, batch_size, seed, ...).
    Everything else (networks, SAC hyper-parameters, episode length, buffer size) is the source's.
    """
    src_dir = Path(source)
    info = read_checkpoint(src_dir, step, state=False)
    src: TrainConfig = info["config"]
    if not 0 <= int(seed_index) < src.num_seeds:
        raise ValueError(f"seed_index {seed_index} out of range: the source run has {src.num_seeds} seed(s)")
    if split is None:
        split = "test" if benchmark.startswith("ML") else "train"
    skills = benchmark_skills(benchmark, split)
    check_ported(benchmark, split)
    space = tuple(src.skill_space) + tuple(s for s in skills if s not in src.skill_space)
    if ALGOS[src.algo].loop is not None:
        raise ValueError(
            f"{str(src_dir)!r} is a {src.algo!r} run: fine-tuning continues a SAC-family run (mtsac, mhsac, "
            f"paco, taco, reptile) with off-policy updates; train the target benchmark with --algo {src.algo} instead"
        )
    algo = FINETUNE_ALGO.get(src.algo, src.algo)
    if ALGOS[algo].conditioning != ALGOS[src.algo].conditioning:
        raise ValueError(f"fine-tuning algo {algo!r} conditions differently from the source's {src.algo!r}")
    if isinstance(updates_per_step, tuple):
        ups, spu = updates_per_step
    else:
        ups, spu = int(updates_per_step), 1
    total = DEFAULT_FINETUNE_STEPS if total_steps is None else int(total_steps)
    per = src.per if per is None else bool(per)
    if balanced is None:
        balanced = src.balanced and not per and src.algo != "reptile"
    ev = max(1, total // 10) if eval_every is None else int(eval_every)
    chunk = min(src.chunk_steps, ev) if ev > 0 else src.chunk_steps
    ft = FinetuneConfig(
        source=str(src_dir.resolve()),
        step=info["step"],
        seed_index=int(seed_index),
        keep_buffer=bool(keep_buffer),
        source_benchmark=src.benchmark,
        source_split=src.split,
        source_task_indices=src.task_indices,
        source_algo=src.algo,
        source_skills=tuple(src.skill_space),
        eval_source=bool(eval_source),
    )
    fields = dict(
        benchmark=benchmark,
        split=split,
        task_indices=task_indices,
        conditioning_skills=space,
        algo=algo,
        num_seeds=1,
        per=per,
        balanced=balanced,
        updates_per_step=ups,
        steps_per_update=spu,
        total_steps=total,
        warmup_steps=int(warmup_steps),
        eval_every=ev,
        chunk_steps=chunk,
        checkpoint_every=0,
        out=out,
        finetune=ft,
    )
    fields.update(overrides)
    cfg = src.replace(**fields)
    check_out_dir(cfg)
    return cfg


def check_out_dir(cfg: TrainConfig) -> None:
    """Refuse an output directory that is, or lies inside, the source run directory."""
    out = Path(cfg.out_dir).resolve()
    src = Path(cfg.finetune.source).resolve()
    if out == src or src in out.parents:
        raise ValueError(
            f"fine-tuning output {str(out)!r} must not be (inside) the source run {str(src)!r}: "
            "the source is never modified; pass another --out"
        )


# ------------------------------------------------------------------------------------------- restore
def _source_parts(src: TrainConfig):
    """(learner, buffer, example transition) of the source run (no env built)."""
    from jaxmeta.replay import make_replay
    from jaxmeta.sac import Transition

    buffer = make_replay(
        src.buffer_capacity,
        src.num_skills,
        src.replay_kind,
        alpha=src.per_alpha,
        beta_start=src.per_beta,
        beta_end=1.0,
        beta_steps=src.total_updates,
    )
    learner = ALGOS[src.algo].make_learner(src, buffer)
    o, a = src.network.obs_dim, src.network.action_dim
    example = Transition(
        obs=jnp.zeros((o,)),
        action=jnp.zeros((a,)),
        reward=jnp.zeros(()),
        next_obs=jnp.zeros((o,)),
        discount=jnp.zeros(()),
        skill_id=jnp.zeros((), jnp.int32),
    )
    return learner, buffer, example


def load_source(source: str, step: int | None = None, seed_index: int = 0, replay: bool = True) -> dict:
    """Restore the agent state (and replay state) of a run's checkpoint, read-only, without building its
    envs. Returns ``{"config", "step", "agent", "replay" (None unless `replay`)}``; arrays of one seed.

    The checkpoint's leaf signature (paths, shapes, dtypes) must match the source learner's state (else
    CheckpointError)."""
    info = read_checkpoint(source, step)
    src: TrainConfig = info["config"]
    learner, buffer, example = _source_parts(src)
    key = jax.random.PRNGKey(0)
    abstract = {"agent": jax.eval_shape(learner.init, key), "replay": jax.eval_shape(buffer.init, example)}
    S = src.num_seeds
    if not 0 <= seed_index < S:
        raise CheckpointError(f"seed_index {seed_index} out of range: the source run has {S} seed(s)")
    leaves = info["meta"]["leaves"]
    flat = info["state"]
    out, i = {}, 0
    for part in ("agent", "replay"):
        paths_leaves, treedef = jax.tree_util.tree_flatten_with_path(abstract[part])
        vals = []
        for path, a in paths_leaves:
            want = [
                f".{part}{jax.tree_util.keystr(path)}",
                ([S] if S > 1 else []) + list(a.shape),
                str(np.dtype(a.dtype)),
            ]
            if i >= len(leaves) or leaves[i] != want:
                got = leaves[i] if i < len(leaves) else "nothing"
                raise CheckpointError(
                    f"checkpoint of {str(source)!r} does not hold the expected {part} state "
                    f"(leaf {i}: {got} vs expected {want})"
                )
            x = flat.get(f"{i:06d}")
            x = np.zeros(want[1], a.dtype) if x is None else np.asarray(x)
            vals.append(jnp.asarray(x[seed_index] if S > 1 else x))
            i += 1
        out[part] = jax.tree.unflatten(treedef, vals)
    return {"config": src, "step": info["step"], "agent": out["agent"], "replay": out["replay"] if replay else None}


def grow_tasks(source_agent: Any, fresh_agent: Any) -> Any:
    """The source agent state in a (possibly larger) skill space: leaves of equal shape are the source's;
    a leaf whose one (task) axis grew from n to n' keeps the source's values at indices < n along it and
    the fresh state's beyond (new skill ids). Raises ValueError for any other shape change."""
    s_paths, treedef = jax.tree_util.tree_flatten_with_path(source_agent)
    f_leaves, f_def = jax.tree.flatten(fresh_agent)
    if treedef != f_def:
        raise ValueError(f"source agent state structure differs from the fine-tuning one:\n{treedef}\nvs\n{f_def}")
    out = []
    for (path, s), f in zip(s_paths, f_leaves):
        s = jnp.asarray(s)
        if s.dtype != f.dtype:
            raise ValueError(f"{jax.tree_util.keystr(path)}: dtype {s.dtype} vs {f.dtype}")
        if s.shape == f.shape:
            out.append(s.astype(f.dtype))
            continue
        diff = [d for d in range(f.ndim) if s.ndim != f.ndim or s.shape[d] != f.shape[d]]
        if s.ndim != f.ndim or len(diff) != 1 or s.shape[diff[0]] > f.shape[diff[0]]:
            raise ValueError(
                f"{jax.tree_util.keystr(path)}: cannot map source shape {s.shape} onto {f.shape} "
                "(only one growing task axis is supported)"
            )
        d = diff[0]
        idx = tuple(slice(None) if k != d else slice(0, s.shape[d]) for k in range(f.ndim))
        out.append(f.at[idx].set(s))
    return jax.tree.unflatten(f_def, out)


def readd_replay(buffer, fresh_replay, source_replay):
    """``fresh_replay`` with the source buffer's stored transitions added, oldest first (skill ids are
    kept: the source's ids are a prefix of the fine-tuning skill space)."""
    size = int(source_replay.size)
    if size == 0:
        return fresh_replay
    C = int(source_replay.skill_ids.shape[0])
    pos = int(source_replay.insert_pos)
    order = np.arange(size) if size < C else (pos + np.arange(C)) % C
    items = jax.tree.map(lambda x: jnp.asarray(np.asarray(x)[order]), source_replay.items)
    return jax.jit(buffer.add)(fresh_replay, items)


# --------------------------------------------------------------------------------------------- hooks
class FinetuneHooks(NoHooks):
    """`jaxmeta.train.train` hooks of a fine-tuning run (see the module docstring)."""

    eval_at_start = True

    def __init__(self, config: TrainConfig, source: dict | None = None):
        self.cfg = config
        ft = config.finetune
        if ft is None:
            raise ValueError("FinetuneHooks needs a config with .finetune (use finetune_config)")
        self.source = source  # load_source(...) result (fresh runs); None on resume
        self.src_skills = benchmark_skills(ft.source_benchmark, ft.source_split)
        self.eval_skills = {"source": self.src_skills} if ft.eval_source else {}
        self._eval = None

    def compile(self, trainer, programs) -> None:
        if not self.eval_skills:
            return
        from jaxmeta.evaluate import make_evaluate
        from jaxmeta.tasks import build_env

        cfg, ft = self.cfg, self.cfg.finetune
        t0 = time.perf_counter()
        env = build_env(
            ft.source_benchmark,
            split=ft.source_split,
            task_indices=ft.source_task_indices,
            skill_ids=tuple(cfg.skill_space.index(s) for s in self.src_skills),
            envs_per_skill=cfg.eval_episodes,
            max_path_length=cfg.max_path_length,
            seed=cfg.seed,
        )
        fn = jax.jit(make_evaluate(env, trainer.networks, cfg.max_path_length))
        abstract = trainer.learner.actor_params(programs.abstract_state.agent)
        self._eval = fn.lower(abstract, jax.ShapeDtypeStruct((2,), jnp.uint32)).compile()
        programs.compile_s["source_evaluate"] = time.perf_counter() - t0

    def init_state(self, trainer, programs):
        if self.source is None:
            raise RuntimeError("FinetuneHooks.init_state needs the restored source (finetune() loads it)")
        ts = programs.init_state(trainer.seed_key(0))
        agent = grow_tasks(self.source["agent"], ts.agent)
        replay = ts.replay
        if self.cfg.finetune.keep_buffer:
            replay = readd_replay(trainer.buffer, replay, self.source["replay"])
        put = lambda new, old: jax.device_put(new, old.sharding)  # noqa: E731
        return ts.replace(agent=jax.tree.map(put, agent, ts.agent), replay=jax.tree.map(put, replay, ts.replay))

    def evaluate(self, trainer, actor_params, chunk: int) -> dict:
        if self._eval is None:
            return {}
        key = jax.random.fold_in(trainer.eval_key(chunk)[0], 7)
        return {"source": self._eval(actor_params, key)}

    def finish(self, summary: dict, rows: list[dict]) -> None:
        ft = self.cfg.finetune
        summary["finetune"] = {
            **dataclasses.asdict(ft),
            "skill_space": list(self.cfg.skill_space),
            "per": self.cfg.per,
            "updates_per_step": self.cfg.updates_per_step,
            "steps_per_update": self.cfg.steps_per_update,
        }
        evals = [r for r in rows if r["kind"] == "eval"]

        def num(r, k):
            v = r.get(k, "")
            return float(v) if v not in ("", None) else math.nan

        zs = [r for r in evals if int(r["chunk"]) == 0]
        if zs:
            z = zs[0]
            summary["zero_shot"] = {
                "success": num(z, "eval_success"),
                "success_per_skill": {s: num(z, f"eval_success/{s}") for s in self.cfg.skills},
            }
            if self.eval_skills:
                summary["zero_shot"]["source_success"] = num(z, "source_success")
        if self.eval_skills and evals:
            last = evals[-1]
            summary["final_source_eval"] = {
                "chunk": int(last["chunk"]),
                "success": num(last, "source_success"),
                "success_per_skill": {s: num(last, f"source_success/{s}") for s in self.src_skills},
            }
            src_hist = [num(r, "source_success") for r in evals]
            summary["source_success_min"] = float(np.nanmin(src_hist)) if src_hist else None
            if zs:
                summary["forgetting"] = summary["zero_shot"]["source_success"] - summary["final_source_eval"]["success"]


# ----------------------------------------------------------------------------------------------- run
def finetune(
    config: TrainConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    max_chunks: int | None = None,
    log=None,
    num_devices: int | None = None,
    wandb: bool = False,
    from_step: int | None = None,
) -> dict:
    """Run (or resume) a fine-tuning job built by `finetune_config`; returns the summary dict
    (wandb, from_step: as `jaxmeta.train.train`; from_step needs resume).

    The source checkpoint is restored before anything is compiled (errors come first)."""
    from jaxmeta.driver import train

    if config.finetune is None:
        raise ValueError("finetune() needs a fine-tuning config (finetune_config(...))")
    check_out_dir(config)
    ft = config.finetune
    source = None
    if not resume:
        source = load_source(ft.source, ft.step, ft.seed_index, replay=ft.keep_buffer)
    return train(
        config,
        resume=resume,
        overwrite=overwrite,
        progress=progress,
        max_chunks=max_chunks,
        log=log,
        hooks=FinetuneHooks(config, source),
        num_devices=num_devices,
        wandb=wandb,
        from_step=from_step,
    )
