"""Command line: ``jaxmeta train ...`` / ``python -m jaxmeta train ...``; ``jaxmeta bench envs|train``.

    jaxmeta train                                   # default preset: MT1/reach-v3, a few CPU minutes
    jaxmeta train --preset mt10 --per --seeds 4     # PaCo Table VI MT10, prioritized replay, 4 seeds
    jaxmeta train --benchmark MT1/push-v3 --algo mhsac --total-steps 1e6 --out checkpoints/push
    jaxmeta train --out checkpoints/push --resume   # continue a killed run exactly
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


def parser() -> argparse.ArgumentParser:
    from jaxmeta.config import ALGOS, PRESETS

    p = argparse.ArgumentParser(prog="jaxmeta", description="JAX multi-task / meta-RL on Meta-World (MJX).")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train (or resume) a multi-task SAC agent",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--preset", choices=sorted(PRESETS), default="default", help="base configuration")
    t.add_argument("--benchmark", help="MT1/<skill>, MT10, MT50, ML10, ... or toy/<n>")
    t.add_argument("--algo", choices=sorted(ALGOS), help="mtsac (one-hot task input) or mhsac (multi-head)")
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
    grp = t.add_mutually_exclusive_group()
    grp.add_argument("--resume", action="store_true", help="continue the latest checkpoint in --out")
    grp.add_argument("--overwrite", action="store_true",
                     help="replace jaxmeta's files in a non-empty --out (other files are kept)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--dry-run", action="store_true", help="validate, print the configuration and exit")

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
                 "eval_every", "eval_episodes", "checkpoint_every", "out"):
        v = getattr(args, name, None)
        if v is not None:
            over[name] = v
    if args.updates_per_step is not None:
        over["updates_per_step"], over["steps_per_update"] = args.updates_per_step
    if args.hidden is not None:
        over["network.hidden"] = args.hidden
    if args.lr is not None:
        over["sac.actor_lr"] = over["sac.critic_lr"] = over["sac.alpha_lr"] = args.lr
    if args.discount is not None:
        over["sac.discount"] = args.discount
    base = preset(args.preset)
    if "total_steps" in over and "warmup_steps" not in over and base.warmup_steps > over["total_steps"]:
        over["warmup_steps"] = over["total_steps"]  # a short run keeps the preset's warm-up at most
    return preset(args.preset, **over)


def _experiments_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "experiments"


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)

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
        check_ported(cfg.benchmark)
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


if __name__ == "__main__":
    sys.exit(main())
