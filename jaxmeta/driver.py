"""The host driver of a run, `train(config, ...)` (what ``jaxmeta train`` calls): build the pure functions
(`jaxmeta.train.make_train`), compile them ahead of time (`jaxmeta.programs`), then run chunks and, between
them, evaluate, log (progress bar, ``metrics.csv``, TensorBoard, ``summary.json``, ``learning_curve.png``)
and checkpoint (orbax); resume exactly from a run directory. Python only evaluates, logs and
checkpoints between chunks; everything else runs inside the compiled programs."""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import jax
import numpy as np

from jaxmeta.config import TrainConfig, check_ported
from jaxmeta.interfaces import RunHooks, check_hooks
from jaxmeta.programs import Programs, compile_programs
from jaxmeta.sharding import plan_devices
from jaxmeta.train import make_train

__all__ = ["train"]

#: The most physics graphs one training program has compiled with on the project's 2-core / 24 GB CPU (MT10 with
#: families: 4; 8 before them). A run with more gets a note before compiling (docs/families.md).
CPU_GRAPHS_COMPILED = 8


def _process_age_s() -> float | None:
    """Seconds since this process started (Linux /proc; None elsewhere)."""
    try:
        with open("/proc/self/stat") as f:
            start_ticks = float(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def _abstract_with_shardings(programs: Programs) -> Any:
    if programs.state_sharding is not None:
        return jax.tree.map(
            lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s),
            programs.abstract_state,
            programs.state_sharding,
        )
    dev = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    return jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=dev), programs.abstract_state)


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    max_chunks: int | None = None,
    log: Callable[[str], None] | None = None,
    hooks: RunHooks | None = None,
    num_devices: int | None = None,
    wandb: bool = False,
    from_step: int | None = None,
) -> dict:
    """Run (or resume) a training job; returns the summary dict (also written to summary.json).

    resume: continue from the latest checkpoint in ``config.out_dir`` (exactly: same metrics and params
        as an uninterrupted run); a corrupt or incomplete newest checkpoint is skipped for the newest intact
        one, saying so (`jaxmeta.checkpoint.find_resume_point`: every item is read before anything
        compiles). from_step: resume from this checkpoint (env steps) instead; the newer ones are moved to
        ``<run>/checkpoints-discarded/``. overwrite: replace the jaxmeta files of an existing run directory (see
        `jaxmeta.checkpoint.prepare_run_dir`). max_chunks: stop after this many chunks in this call
        (the job is then resumable; used by tests to simulate an interruption).
    hooks: optional run extensions, a `jaxmeta.interfaces.RunHooks` (`jaxmeta.finetune.FinetuneHooks` is
        the one user): compile its own programs, a fresh run's initial state, a zero-shot evaluation at
        chunk 0, extra evaluations, additions to the summary. None: `jaxmeta.interfaces.NoHooks`; an
        object lacking a member is a TypeError before anything is done.
    num_devices: shard over at most this many devices (`plan_devices`; None: its default, 1 on a CPU).
        Several processes (`jaxmeta.distributed`, initialized before): every process calls train with the
        same config and shares the run directory; the run shards over every device of every process,
        process 0 alone writes the run's files and prints, all of them write and read the checkpoints.
    wandb: also log the metrics.csv scalars and the config to Weights & Biases (`jaxmeta.metrics_log.WandbLog`;
        ImportError before anything is done when the wandb package is missing). The scalars always go to
        TensorBoard event files in ``<run>/tb/`` too.
    """
    from jaxmeta import __version__
    from pathlib import Path

    from jaxmeta import distributed
    from jaxmeta.checkpoint import CONFIG_FILE, CheckpointError, Checkpointer, prepare_run_dir
    from jaxmeta.metrics_log import MetricsFileError, MetricsLog, WandbLog, import_wandb, nanmean, progress_bar

    if from_step is not None and not resume:
        raise ValueError("from_step (--from-step) chooses the checkpoint to resume from: it needs resume (--resume)")
    check_ported(config.benchmark, config.split)
    multi = jax.process_count() > 1
    primary = distributed.is_primary()
    if multi and hooks is not None:
        raise ValueError(
            "run hooks (fine-tuning) run in one process; this is process "
            f"{jax.process_index()} of {jax.process_count()}"
        )
    hooks = check_hooks(hooks)
    if wandb and primary:
        import_wandb()
    errors = (ValueError, CheckpointError, MetricsFileError)
    run_dir = Path(
        distributed.agree(lambda: str(prepare_run_dir(config, resume=resume, overwrite=overwrite)), "run_dir", errors)
    )
    cfg = config.replace(out=str(run_dir))
    say = log or (lambda s: print(s, flush=True))
    if not primary:
        say = lambda s: None  # noqa: E731  (process 0 speaks for the run)
    t_start = time.perf_counter()
    age_at_start = _process_age_s()

    if num_devices is not None and not 1 <= num_devices <= len(jax.devices()):
        raise ValueError(
            f"num_devices must be in [1, {len(jax.devices())}] (the {jax.default_backend()} devices "
            f"of this process), got {num_devices!r}"
        )
    restored = point = None
    if resume:  # fail fast on a mismatched/corrupt checkpoint: read all of it before compiling
        from jaxmeta.checkpoint import config_diff, find_resume_point, load_config

        if (run_dir / CONFIG_FILE).is_file():
            diff = config_diff(load_config(run_dir), cfg)
            if diff:
                lines = ", ".join(f"{k}: run {a!r} vs now {b!r}" for k, (a, b) in diff.items())
                raise CheckpointError(f"run {str(run_dir)!r} was started with a different config ({lines})")
        read = {}

        def read_point():
            read["point"] = find_resume_point(run_dir, cfg, from_step, discard=not multi)
            return read["point"].step

        steps = distributed.gather(read_point, "resume_point", errors)  # (every process has read when it returns)
        point = read["point"]
        if len(set(steps)) > 1:
            raise CheckpointError(
                f"the processes would resume from different checkpoints ({steps}, in process "
                f"order): do they all see the same run directory {str(run_dir)!r}?"
            )
        if multi:
            from jaxmeta.checkpoint import discard_newer

            if primary:
                discard_newer(run_dir, point)
            distributed.barrier("resume_discarded")
        moved = f"{', '.join(str(s) for s, _ in point.discarded)} moved to {run_dir / 'checkpoints-discarded'}"
        if point.skipped:
            (bad, why), more = point.skipped[0], point.skipped[1:]
            say(
                f"warning: checkpoint {bad} is unusable ({why}"
                + (f"; so are {', '.join(str(s) for s, _ in more)}" if more else "")
                + f"): resuming from checkpoint {point.step}, the newest intact one ({moved}; details in "
                f"{run_dir / 'error.log'})"
            )
        elif point.discarded:
            say(f"resuming from checkpoint {point.step} (--from-step); the newer checkpoints {moved}")
        MetricsLog(run_dir, cfg.skills).check_resumable()
    trainer = make_train(cfg, num_devices=plan_devices(cfg, num_devices) if num_devices is not None or multi else None)
    if multi and trainer.learner.between_chunks is not None:
        raise ValueError(
            f"algo {cfg.algo!r} with task_sampling {cfg.paco.task_sampling!r} updates the learner on the "
            "host between chunks, which a multi-process run does not do; run it in one process"
        )
    if primary:
        (run_dir / CONFIG_FILE).write_text(__import__("json").dumps(cfg.to_dict(), indent=2))

    say(
        f"jaxmeta train: {cfg.benchmark} ({len(cfg.skills)} skill(s) x {cfg.envs_per_skill} envs), algo {cfg.algo}, "
        f"replay {cfg.replay_kind}, seeds {cfg.num_seeds}, {cfg.num_chunks} chunks x {cfg.env_steps_per_chunk} "
        f"env steps, run dir {run_dir}"
    )
    cache_dir = jax.config.jax_compilation_cache_dir
    say(
        "compiling: the first launch of a configuration compiles for minutes on a CPU"
        + (
            f"; the persistent cache ({cache_dir}) makes the next ones start in seconds"
            if cache_dir
            else " (no persistent compilation cache is enabled: envs._runtime.enable_compilation_cache)"
        )
        + " ..."
    )
    graphs = getattr(trainer.env, "num_physics_groups", 0)
    if jax.default_backend() == "cpu" and graphs > CPU_GRAPHS_COMPILED:
        say(
            f"note: this program holds {graphs} physics graphs; on the project's 2-core / 24 GB CPU the most that "
            f"has compiled in one program is {CPU_GRAPHS_COMPILED} (MT50's 17 did not: docs/families.md)"
        )
    programs = compile_programs(trainer, need_init=not resume)
    cs = programs.compile_s
    parts = [f"run {cs['run']:.1f}s"] + [
        f"{k.replace('_', ' ')} {cs[k]:.1f}s" for k in ("reset_pool", "init") if k in cs
    ]
    say(
        f"compiled in {cs['total']:.1f}s (trace+lower {cs['lower']:.1f}s; {', '.join(parts)})"
        + (f"; sharded over {programs.num_devices} devices" if programs.num_devices > 1 else "")
        + (f" of {jax.process_count()} processes" if multi else "")
    )
    hooks.compile(trainer, programs)

    S = cfg.num_seeds
    batched = programs.batched
    start_chunk = 0
    if resume:
        ts, meta = point.state_from(_abstract_with_shardings(programs)), point.meta
        start_chunk = int(meta["chunk"])
        say(f"resumed from chunk {start_chunk} ({meta['env_steps']} env steps)")
        restored = meta
    else:
        ts = hooks.init_state(trainer, programs)
        if ts is None:
            ts = programs.init_state(trainer.run_key() if batched else trainer.seed_key(0))

    mlog = MetricsLog(
        run_dir,
        trainer.skills,
        skill_ids=cfg.skill_ids,
        extra_evals=dict(hooks.eval_skills) or None,
        wandb=WandbLog(run_dir, cfg.to_dict(), resume=resume) if wandb and primary else None,
        writer=primary,
    )
    mlog.start(resume_chunk=start_chunk if resume else None)
    title = f"{cfg.benchmark} {cfg.algo}{' PER' if cfg.per else ''} ({S} seed{'s' if S > 1 else ''})"
    E = cfg.env_steps_per_chunk
    bar = progress_bar(cfg.num_chunks * E, start_chunk * E, progress and primary)

    host = lambda tree: jax.tree.map(  # noqa: E731  (device -> host, leading seed axis always)
        lambda x: x if batched else x[None], distributed.to_host(tree)
    )
    chunk_times, eval_s, ckpt_s = [], 0.0, 0.0
    last_eval = None
    eval_history: list[float] = []
    best = -1.0
    if resume:  # evaluation history of the interrupted process, for best / last-3 in the summary
        by_chunk: dict[int, list[float]] = {}
        for r in mlog.read():
            if r["kind"] == "eval" and r.get("eval_success", "") not in ("", "nan"):
                by_chunk.setdefault(int(r["chunk"]), []).append(float(r["eval_success"]))
        eval_history = [float(np.mean(v)) for _, v in sorted(by_chunk.items())]
        best = max(eval_history, default=-1.0)
    t_loop = time.perf_counter()

    def evaluate_now(c, env_steps, updates):
        nonlocal eval_s, last_eval, best, ts
        t0 = time.perf_counter()
        keys = trainer.eval_key(c)
        ts, ev = programs.evaluate(ts, keys if batched else keys[0])
        ev = host(ev)
        actor = trainer.learner.actor_params(ts.agent)
        extra = {k: host(v) for k, v in hooks.evaluate(trainer, actor, c).items()}
        eval_s += time.perf_counter() - t0
        mlog.log_eval(c, env_steps, updates, ev, time.perf_counter() - t_loop, extra=extra)
        last_eval = (c, ev, env_steps)
        eval_history.append(float(np.mean(ev["success"])))
        best = max(best, eval_history[-1])
        mlog.plot(title)

    if hooks.eval_at_start and not resume:  # zero-shot, chunk 0
        zeros = np.zeros((S,), np.int64)
        evaluate_now(0, zeros, zeros)
    end_chunk = cfg.num_chunks if max_chunks is None else min(cfg.num_chunks, start_chunk + int(max_chunks))
    interrupted = False
    c = start_chunk
    t_first_step = None
    try:  # (opened after find_resume_point moved any newer checkpoints aside)
        ckpt = Checkpointer(run_dir, cfg.keep_checkpoints)
    except BaseException:
        bar.close()
        mlog.close()
        raise
    try:
        for c in range(start_chunk + 1, end_chunk + 1):
            t0 = time.perf_counter()
            if t_first_step is None:
                t_first_step = t0 - t_start
            ts, m = programs.chunk(ts)
            m = host(m)
            if trainer.learner.between_chunks is not None:  # host-side learner step (TaCo-online)
                agent = trainer.learner.between_chunks(ts.agent, c, batched)
                ts = ts.replace(agent=jax.tree.map(lambda new, old: jax.device_put(new, old.sharding), agent, ts.agent))
            dt = time.perf_counter() - t0
            chunk_times.append(dt)
            sps = E * S / dt
            mlog.log_train(c, m, time.perf_counter() - t_loop, sps)
            bar.update(E)
            post = {"sps": f"{sps:,.0f}", "train_succ": f"{nanmean(m['episode_success']):.2f}"}
            if cfg.due(c, cfg.eval_every):
                evaluate_now(c, m["env_steps"], m["updates"])
            if last_eval is not None:
                post["eval_succ"] = f"{np.mean(last_eval[1]['success']):.2f}"
            bar.set_postfix(post)
            if cfg.due(c, cfg.checkpoint_every) or c == end_chunk:
                t0 = time.perf_counter()
                meta = {
                    "chunk": c,
                    "env_steps": int(m["env_steps"][0]),
                    "updates": int(m["updates"][0]),
                    "num_seeds": S,
                    "jaxmeta_version": __version__,
                }
                policy = {
                    "actor_params": trainer.learner.actor_params(ts.agent),
                    "critic_params": trainer.learner.critic_params(ts.agent),
                }
                ckpt.save(int(m["env_steps"][0]), ts, cfg, meta, policy)
                ckpt_s += time.perf_counter() - t0
    except KeyboardInterrupt:
        interrupted = True
        bar.write(f"interrupted during chunk {c}; resume with --resume (latest checkpoint: step {ckpt.latest_step()})")
    finally:
        bar.close()
        ckpt.close()
        mlog.close()

    completed = (not interrupted) and c >= cfg.num_chunks
    loop_s = time.perf_counter() - t_loop
    train_s = float(sum(chunk_times))
    n_chunks = len(chunk_times)
    steady = chunk_times[1:] if n_chunks > 1 else chunk_times
    summary: dict = {
        "run_dir": str(run_dir),
        "benchmark": cfg.benchmark,
        "algo": cfg.algo,
        "replay": cfg.replay_kind,
        "num_seeds": S,
        "skills": list(trainer.skills),
        "completed": completed,
        "resumed_from_chunk": restored["chunk"] if restored else None,
        "chunks_run": n_chunks,
        "chunk": c,
        "num_chunks": cfg.num_chunks,
        "env_steps_per_seed": int(c * E),
        "devices": programs.num_devices,
        "processes": jax.process_count(),
        "platform": jax.devices()[0].platform,
        "timings_s": {
            "compile": cs,
            "train": train_s,
            "eval": eval_s,
            "checkpoint": ckpt_s,
            "loop": loop_s,
            "total": time.perf_counter() - t_start,
            # from the call of train() (and from the process's start) to the first chunk's first env step
            "to_first_step": t_first_step,
            "process_to_first_step": None
            if t_first_step is None or age_at_start is None
            else age_at_start + t_first_step,
        },
        "env_steps_per_s": (E * S * n_chunks / train_s) if train_s > 0 else None,
        "env_steps_per_s_steady": (E * S * len(steady) / sum(steady)) if steady else None,
        "updates_per_s": (cfg.iters_per_chunk * cfg.updates_per_step * S * n_chunks / train_s) if train_s > 0 else None,
        "best_eval_success": best if best >= 0 else None,
        "eval_success_last3_mean": float(np.mean(eval_history[-3:])) if eval_history else None,
        "config": cfg.to_dict(),
    }
    if last_eval is not None:
        ec, ev, steps = last_eval
        summary["final_eval"] = {
            "chunk": ec,
            "env_steps": int(steps[0]),
            "success": float(np.mean(ev["success"])),
            "success_per_seed": [float(x) for x in ev["success"]],
            "success_per_skill": {
                s: float(np.mean(ev["success_per_skill"][:, t])) for t, s in enumerate(trainer.skills)
            },
            "return": float(np.mean(ev["return"])),
        }
    hooks.finish(summary, mlog.read())
    mlog.write_summary(summary)
    mlog.plot(title)
    fe = summary.get("final_eval")
    say(
        f"done: {c}/{cfg.num_chunks} chunks, {c * E:,} env steps/seed in {summary['timings_s']['total']:.0f}s "
        f"(compile {cs['total']:.0f}s, train {train_s:.0f}s, eval {eval_s:.0f}s); "
        f"{summary['env_steps_per_s'] or 0:,.0f} env steps/s"
        + (f"; final eval success {fe['success']:.2f}" if fe else "")
    )
    return summary
