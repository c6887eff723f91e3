"""Command line: ``jaxmeta train ...`` / ``python -m jaxmeta train ...``; ``jaxmeta bench envs|train``.

    jaxmeta train                                   # default preset: MT1/reach-v3, a few CPU minutes
    jaxmeta train --preset mt10 --per --seeds 4     # PaCo Table VI MT10, prioritized replay, 4 seeds
    jaxmeta train --benchmark MT1/push-v3 --algo mhsac --total-steps 1e6 --out checkpoints/push
    jaxmeta train --out checkpoints/push --resume   # continue a killed run exactly
    jaxmeta train --benchmark ML1/reach-v3 --algo reptile --inner-steps 5 --meta-batch 4 --outer-lr 0.5
    jaxmeta finetune --from checkpoints/ml1-reach --benchmark ML1/reach-v3 --tasks 0 --keep-buffer --per
    jaxmeta bench train --quick                     # experiments/bench_train.py

Every flag is validated (and the run directory checked) before anything is compiled; errors print one
line and exit with status 2. The persistent XLA compilation cache is enabled (``~/.cache/jaxmeta/xla``
or ``$JAXMETA_CACHE_DIR``), so a second run of the same configuration starts in seconds.

Run-directory rules (`jaxmeta.checkpoint`): a new run refuses a non-empty ``--out`` unless
``--overwrite`` (which removes only jaxmeta's own files, and only in a jaxmeta run directory); without
``--out`` a fresh ``checkpoints/<run-name>[-k]`` is picked; ``--resume`` continues the latest checkpoint
and requires the same configuration (``--total-steps`` may grow, evaluation/checkpoint cadence may change).
"""
from __future__ import annotations

import argparse
import os
import runpy
import sys
from fractions import Fraction
from pathlib import Path

import envs  # noqa: F401  (XLA flags before JAX initialises)

__all__ = ["build_config", "main", "parser"]


def _count(text: str) -> int:
    """Ints that may be written 1e6 / 20_000_000 / 2M."""
    t = text.strip().replace("_", "").lower()
    mult = 1
    if t and t[-1] in "km":
        mult = 1000 if t[-1] == "k" else 1_000_000
        t = t[:-1]
    try:
        v = float(t) * mult
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a count: {text!r}") from None
    if v != int(v):
        raise argparse.ArgumentTypeError(f"not an integer count: {text!r}")
    return int(v)


def _ratio(text: str) -> tuple[int, int]:
    """'2' -> (2, 1); '1/4' -> (1, 4); '0.25' -> (1, 4)."""
    try:
        f = Fraction(text.strip())
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a ratio: {text!r} (use e.g. 2, 1/4 or 0.25)") from None
    if f <= 0:
        raise argparse.ArgumentTypeError(f"--updates-per-step must be > 0, got {text!r}")
    f = f.limit_denominator(1000)
    return f.numerator, f.denominator


def _hidden(text: str) -> tuple[int, ...]:
    try:
        h = tuple(int(x) for x in text.replace("x", ",").split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--hidden must be comma-separated ints like 256,256, got {text!r}") from None
    if not h:
        raise argparse.ArgumentTypeError(f"--hidden must list at least one width, got {text!r}")
    return h


def _ints(text: str) -> tuple[int, ...]:
    """'0,3,7' or '0-24' (inclusive range) or a mix: '0-4,10'."""
    out: list[int] = []
    try:
        for part in (x.strip() for x in text.split(",") if x.strip()):
            if "-" in part:
                lo, hi = (int(v) for v in part.split("-", 1))
                out.extend(range(lo, hi + 1))
            else:
                out.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of task indices: {text!r} (use e.g. 0,3,7 or 0-24)") from None
    if not out:
        raise argparse.ArgumentTypeError(f"no task index in {text!r}")
    return tuple(out)


def _floats(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers like 1,2,1, got {text!r}") from None


def parser() -> argparse.ArgumentParser:
    from jaxmeta.config import ALGOS, PRESETS

    p = argparse.ArgumentParser(prog="jaxmeta", description="JAX multi-task / meta-RL on Meta-World (MJX).")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train (or resume) a multi-task SAC agent",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--preset", choices=sorted(PRESETS), default="default", help="base configuration")
    t.add_argument("--benchmark", help="MT1/<skill>, MT10, MT50, ML10, ... or toy/<n>")
    t.add_argument("--algo", choices=sorted(ALGOS),
                   help="mtsac (one-hot task input), mhsac (multi-head), paco / taco (compositional, seed 002)")
    t.add_argument("--per", action="store_true", default=None, help="prioritized experience replay")
    t.add_argument("--balanced", action="store_true", default=None, help="task-balanced replay sampling")
    t.add_argument("--seed", type=int, help="PRNG seed (and benchmark task-set seed)")
    t.add_argument("--seeds", type=int, dest="num_seeds", help="independent seeds vmapped in one program")
    t.add_argument("--total-steps", type=_count, help="env steps (summed over envs) per seed, e.g. 2e6")
    t.add_argument("--warmup-steps", type=_count, help="env steps of uniform random actions")
    t.add_argument("--updates-per-step", type=_ratio,
                   help="SAC updates per batched env step: an int or a ratio like 1/4")
    t.add_argument("--batch-size", type=_count)
    t.add_argument("--buffer-capacity", type=_count)
    t.add_argument("--envs-per-skill", type=int)
    t.add_argument("--max-path-length", type=int, help="episode length (truncation)")
    t.add_argument("--chunk-steps", type=_count, help="env steps per jitted chunk")
    t.add_argument("--eval-every", type=_count, help="env steps between evaluations (0: end only)")
    t.add_argument("--eval-episodes", type=int, help="evaluation episodes per skill")
    t.add_argument("--checkpoint-every", type=_count, help="env steps between checkpoints (0: end only)")
    t.add_argument("--hidden", type=_hidden, help="hidden layer widths, e.g. 400,400,400")
    t.add_argument("--lr", type=float, help="learning rate of actor, critic and temperature")
    t.add_argument("--discount", type=float)
    t.add_argument("--out", help="run directory (default checkpoints/<run-name>)")
    t.add_argument("--split", choices=["train", "test"],
                   help="task sets the envs run: test = held-out tasks of ML1/ML10 (from-scratch baselines)")
    t.add_argument("--tasks", type=_ints, dest="task_indices",
                   help="keep only these task rows of every skill, e.g. 0 or 0-24")
    rp = t.add_argument_group("Reptile (--algo reptile; TrainConfig.reptile)")
    rp.add_argument("--inner-steps", type=int, help="k SAC updates per task per outer step")
    rp.add_argument("--meta-batch", type=int, help="M tasks per outer step (vmapped inner loops)")
    rp.add_argument("--outer-lr", type=float, help="outer step size eps in [0, 1]")
    pc = t.add_argument_group("PaCo / TaCo (--algo paco|taco; TrainConfig.paco)")
    pc.add_argument("--param-sets", type=int, help="K parameter sets per layer (Table VII: 5)")
    pc.add_argument("--loss-threshold", type=float, help="mask-out / w-reset loss threshold (3e3)")
    pc.add_argument("--task-sampling", help="taco: uniform | grouped | weighted | online")
    pc.add_argument("--task-weights", type=_floats, help="taco weighted: one weight per task, e.g. 1,2,1")
    pc.add_argument("--transfer-from", help="TaCo transfer: restore Phi from this paco/taco run directory")
    pc.add_argument("--explore-steps", type=_count, help="TaCo transfer: n_e subspace-exploration env steps")
    pc.add_argument("--fixed-phi", action="store_true", default=None, help="TaCo transfer: train w only")
    grp = t.add_mutually_exclusive_group()
    grp.add_argument("--resume", action="store_true", help="continue the latest checkpoint in --out")
    grp.add_argument("--overwrite", action="store_true",
                     help="replace jaxmeta's files in a non-empty --out (other files are kept)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--dry-run", action="store_true", help="validate, print the configuration and exit")

    _finetune_parser(sub)

    b = sub.add_parser("bench", help="benchmarks (experiments/bench_*.py)")
    b.add_argument("what", choices=["envs", "train"])
    b.add_argument("args", nargs=argparse.REMAINDER, help="passed to the script")
    return p


def build_config(args: argparse.Namespace):
    """TrainConfig from parsed `train` args (raises ValueError naming the bad value)."""
    from jaxmeta.config import preset

    over: dict = {}
    for name in ("benchmark", "algo", "per", "balanced", "seed", "num_seeds", "total_steps", "warmup_steps",
                 "batch_size", "buffer_capacity", "envs_per_skill", "max_path_length", "chunk_steps",
                 "eval_every", "eval_episodes", "checkpoint_every", "out", "split", "task_indices"):
        v = getattr(args, name, None)
        if v is not None:
            over[name] = v
    for flag in ("inner_steps", "meta_batch", "outer_lr"):
        if getattr(args, flag, None) is not None:
            over[f"reptile.{flag}"] = getattr(args, flag)
    if args.updates_per_step is not None:
        over["updates_per_step"], over["steps_per_update"] = args.updates_per_step
    if args.hidden is not None:
        over["network.hidden"] = args.hidden
    if args.lr is not None:
        over["sac.actor_lr"] = over["sac.critic_lr"] = over["sac.alpha_lr"] = args.lr
    if args.discount is not None:
        over["sac.discount"] = args.discount
    for flag, field in (("param_sets", "num_param_sets"), ("loss_threshold", "loss_threshold"),
                        ("task_sampling", "task_sampling"), ("task_weights", "task_weights"),
                        ("transfer_from", "transfer_from"), ("explore_steps", "transfer_explore_steps"),
                        ("fixed_phi", "transfer_fixed_phi")):
        if getattr(args, flag, None) is not None:
            over[f"paco.{field}"] = getattr(args, flag)
    base = preset(args.preset)
    if "total_steps" in over and "warmup_steps" not in over and base.warmup_steps > over["total_steps"]:
        over["warmup_steps"] = over["total_steps"]  # a short run keeps the preset's warm-up at most
    return preset(args.preset, **over)


def _experiments_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "experiments"


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)

    if args.command == "finetune":
        return finetune_main(p, args)

    if args.command == "bench":
        script = _experiments_dir() / f"bench_{args.what}.py"
        if not script.is_file():
            p.error(f"{script} not found (the experiments/ folder ships with the repository, not the wheel)")
        rest = [a for a in args.args if a != "--"]
        sys.argv = [str(script)] + rest
        runpy.run_path(str(script), run_name="__main__")
        return 0

    from jaxmeta.checkpoint import CheckpointError, latest_step, prepare_run_dir
    from jaxmeta.config import check_ported

    try:
        cfg = build_config(args)
        check_ported(cfg.benchmark, cfg.split)
        if cfg.paco.transfer_from is not None and cfg.algo in ("paco", "taco"):  # TaCo transfer source
            from jaxmeta.taco import check_source_config

            check_source_config(cfg.paco.transfer_from, cfg)
        if args.resume and latest_step(cfg.out_dir) is None:
            raise CheckpointError(f"nothing to resume: no checkpoint in {os.path.join(cfg.out_dir, 'checkpoints')!r}")
        if args.dry_run:
            import json

            print(json.dumps(cfg.to_dict(), indent=2))
            print(f"num_envs={cfg.num_envs} iters_per_chunk={cfg.iters_per_chunk} "
                  f"env_steps_per_chunk={cfg.env_steps_per_chunk} num_chunks={cfg.num_chunks} "
                  f"out={cfg.out_dir}")
            return 0
        if not args.resume and not args.overwrite and cfg.out is not None:
            prepare_run_dir(cfg)  # refuse a non-empty --out before compiling (creates it if missing)
    except (ValueError, CheckpointError) as e:
        p.exit(2, f"jaxmeta train: error: {e}\n")

    from envs._runtime import enable_compilation_cache

    enable_compilation_cache()
    from jaxmeta.train import train

    try:
        summary = train(cfg, resume=args.resume, overwrite=args.overwrite, progress=not args.no_progress)
    except (ValueError, CheckpointError) as e:
        p.exit(2, f"jaxmeta train: error: {e}\n")
    return 0 if summary["completed"] else 1


# ---------------------------------------------------------------------------------------- finetune
def _finetune_parser(sub) -> None:
    f = sub.add_parser("finetune", help="fine-tune a trained run online on held-out tasks (jaxmeta.finetune)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    f.add_argument("--from", dest="source", help="source run directory (read only); required unless --resume")
    f.add_argument("--step", type=_count, help="source checkpoint (env steps; default: latest)")
    f.add_argument("--seed-index", type=int, default=0, help="seed of a multi-seed source run")
    f.add_argument("--benchmark", help="held-out tasks: ML1/<skill> (new instances), ML10 (test skills), MT1/<skill>, "
                                       "toy/<n> ...; required unless --resume")
    f.add_argument("--split", choices=["train", "test"], help="default: test for ML benchmarks, else train")
    f.add_argument("--tasks", type=_ints, dest="task_indices", help="only these task rows per skill, e.g. 0 or 0-9")
    f.add_argument("--keep-buffer", action="store_true", help="start from the source's replay buffer (old tasks)")
    f.add_argument("--per", action=argparse.BooleanOptionalAction, default=None,
                   help="prioritized replay (default: as the source)")
    f.add_argument("--updates-per-step", type=_ratio, default=(1, 1),
                   help="SAC updates per batched env step (seed 000: 1)")
    f.add_argument("--total-steps", type=_count, help="fine-tuning env steps (default 20k)")
    f.add_argument("--warmup-steps", type=_count, default=0, help="random-action env steps before acting")
    f.add_argument("--eval-every", type=_count, help="env steps between evaluations (default total/10)")
    f.add_argument("--eval-episodes", type=int, help="evaluation episodes per skill")
    f.add_argument("--envs-per-skill", type=int)
    f.add_argument("--batch-size", type=_count)
    f.add_argument("--seed", type=int, help="PRNG seed (default: the source's; also the benchmark task-set seed)")
    f.add_argument("--no-source-eval", action="store_true", help="skip the forgetting evaluation on the source's tasks")
    f.add_argument("--out", help="run directory (default checkpoints/ft-<benchmark>-...)")
    grp = f.add_mutually_exclusive_group()
    grp.add_argument("--resume", action="store_true", help="continue the fine-tuning run in --out")
    grp.add_argument("--overwrite", action="store_true", help="replace jaxmeta's files in a non-empty --out")
    f.add_argument("--no-progress", action="store_true")
    f.add_argument("--dry-run", action="store_true", help="validate, print the configuration and exit")


def finetune_config_from_args(args: argparse.Namespace):
    """The fine-tuning TrainConfig of parsed `finetune` args (ValueError / CheckpointError on problems)."""
    from jaxmeta.checkpoint import load_config
    from jaxmeta.finetune import finetune_config

    if args.resume:
        if not args.out:
            raise ValueError("--resume needs --out (the fine-tuning run directory)")
        cfg = load_config(args.out)
        if cfg.finetune is None:
            raise ValueError(f"{args.out!r} is not a fine-tuning run (use jaxmeta train --resume)")
        return cfg.replace(total_steps=args.total_steps) if args.total_steps else cfg
    if not args.source:
        raise ValueError("--from <source run directory> is required")
    if not args.benchmark:
        raise ValueError("--benchmark is required (e.g. ML1/reach-v3, ML10, toy/1)")
    over = {k: getattr(args, k) for k in ("eval_episodes", "envs_per_skill", "batch_size", "seed")
            if getattr(args, k) is not None}
    return finetune_config(
        args.source, benchmark=args.benchmark, split=args.split, task_indices=args.task_indices, step=args.step,
        seed_index=args.seed_index, keep_buffer=args.keep_buffer, per=args.per,
        updates_per_step=args.updates_per_step, total_steps=args.total_steps, warmup_steps=args.warmup_steps,
        eval_every=args.eval_every, eval_source=not args.no_source_eval, out=args.out, **over)


def finetune_main(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    from jaxmeta.checkpoint import CheckpointError, latest_step, prepare_run_dir

    try:
        cfg = finetune_config_from_args(args)
        if args.resume and latest_step(cfg.out_dir) is None:
            raise CheckpointError(f"nothing to resume: no checkpoint in {os.path.join(cfg.out_dir, 'checkpoints')!r}")
        if args.dry_run:
            import json

            print(json.dumps(cfg.to_dict(), indent=2))
            print(f"task_space={list(cfg.task_space)} task_ids={list(cfg.task_ids)} num_envs={cfg.num_envs} "
                  f"num_chunks={cfg.num_chunks} env_steps_per_chunk={cfg.env_steps_per_chunk} out={cfg.out_dir}")
            return 0
        if not args.resume and not args.overwrite and cfg.out is not None:
            prepare_run_dir(cfg)  # refuse a non-empty --out before compiling
    except (ValueError, CheckpointError) as e:
        p.exit(2, f"jaxmeta finetune: error: {e}\n")

    from envs._runtime import enable_compilation_cache

    enable_compilation_cache()
    from jaxmeta.finetune import finetune

    try:
        summary = finetune(cfg, resume=args.resume, overwrite=args.overwrite, progress=not args.no_progress)
    except (ValueError, CheckpointError) as e:
        p.exit(2, f"jaxmeta finetune: error: {e}\n")
    return 0 if summary["completed"] else 1


if __name__ == "__main__":
    sys.exit(main())
