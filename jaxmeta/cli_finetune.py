"""`jaxmeta finetune`: the sub-command's flags (`_finetune_parser`), their TrainConfig fields
(`FINETUNE_FLAGS`, what ``--resume`` checks against the saved config), the config they describe
(`finetune_config_from_args`) and the command (`finetune_main`). `jaxmeta.cli` dispatches to it."""

from __future__ import annotations

import argparse
import importlib
import os
from pathlib import Path

from jaxmeta.cli_flags import (
    _FROM_STEP_HELP,
    _RATIO_FIELDS,
    _WANDB_HELP,
    _check_from_step,
    _check_resume_dir,
    _count,
    _launch,
    _Flag,
    _ints,
    _nondefault_of,
    _ratio,
    _ratio_values,
    _resume_config,
    _simple,
    _WandbFlag,
)

__all__ = ["FINETUNE_FLAGS", "finetune_config_from_args", "finetune_main"]


def _finetune_only_parser() -> argparse.ArgumentParser:
    """A parser with the finetune sub-command alone (its defaults are the full CLI's)."""
    p = argparse.ArgumentParser(prog="jaxmeta")
    sub = p.add_subparsers(dest="command", required=True)
    p.subcommands = {"finetune": _finetune_parser(sub)}
    return p


def _finetune_parser(sub) -> argparse.ArgumentParser:
    f = sub.add_parser(
        "finetune",
        help="fine-tune a trained run online on held-out tasks (jaxmeta.finetune)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    f.add_argument("--from", dest="source", help="source run directory (read only); required unless --resume")
    f.add_argument("--step", type=_count, help="source checkpoint (env steps; default: latest)")
    f.add_argument("--seed-index", type=int, default=0, help="seed of a multi-seed source run")
    f.add_argument(
        "--benchmark",
        help="held-out tasks: ML1/<skill> (new instances), ML10 (test skills), MT1/<skill>, "
        "toy/<n> ...; required unless --resume",
    )
    f.add_argument("--split", choices=["train", "test"], help="default: test for ML benchmarks, else train")
    f.add_argument("--tasks", type=_ints, dest="task_indices", help="only these task rows per skill, e.g. 0 or 0-9")
    f.add_argument("--keep-buffer", action="store_true", help="start from the source's replay buffer (old tasks)")
    f.add_argument(
        "--per", action=argparse.BooleanOptionalAction, default=None, help="prioritized replay (default: as the source)"
    )
    f.add_argument(
        "--updates-per-step", type=_ratio, default=(1, 1), help="SAC updates per batched env step (paper 000: 1)"
    )
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
    grp.add_argument(
        "--resume", action="store_true", help="continue the fine-tuning run in --out, with the config saved there"
    )
    grp.add_argument("--overwrite", action="store_true", help="replace jaxmeta's files in a non-empty --out")
    f.add_argument("--from-step", type=_count, help=_FROM_STEP_HELP)
    f.add_argument("--no-progress", action="store_true")
    f.add_argument("--wandb", action=_WandbFlag, help=_WANDB_HELP)
    f.add_argument(
        "--devices",
        type=int,
        dest="num_devices_flag",
        help="shard the run over at most N devices (default: every accelerator; 1 on a CPU)",
    )
    f.add_argument("--dry-run", action="store_true", help="validate, print the configuration and exit")
    return f


# `finetune` flags -> fields of the fine-tuning TrainConfig (what --resume compares with the saved config)
FINETUNE_FLAGS: tuple[_Flag, ...] = (
    _Flag("source", "--from", ("finetune.source",), lambda v: {"finetune.source": str(Path(v).resolve())}),
    _simple("step", field="finetune.step"),
    _simple("seed_index", field="finetune.seed_index"),
    *(_simple(d) for d in ("benchmark", "split")),
    _simple("task_indices", "--tasks"),
    _simple("keep_buffer", field="finetune.keep_buffer"),
    _simple("per"),
    _Flag("updates_per_step", "--updates-per-step", _RATIO_FIELDS, _ratio_values),
    *(
        _simple(d)
        for d in ("total_steps", "warmup_steps", "eval_every", "eval_episodes", "envs_per_skill", "batch_size", "seed")
    ),
    _Flag("no_source_eval", "--no-source-eval", ("finetune.eval_source",), lambda v: {"finetune.eval_source": not v}),
    _simple("out"),
)


def finetune_config_from_args(args: argparse.Namespace, given=None):
    """The fine-tuning TrainConfig of parsed `finetune` args (ValueError / CheckpointError on problems).

    With --resume: the saved config of ``--out``; `given` (dests written on the command line, see
    `given_flags`; default: those differing from the parser's defaults) may only change its resumable
    fields (--total-steps, --eval-every, --eval-episodes, --out), other flags must repeat saved values."""
    from jaxmeta.finetune import finetune_config

    if args.resume:  # the run's saved config; flags may only change the resumable fields (see resume_config)
        saved = _check_resume_dir(args.out, "finetune")
        return _resume_config(
            saved, args, _nondefault_of(_finetune_only_parser(), args) if given is None else given, FINETUNE_FLAGS
        )
    if not args.source:
        raise ValueError("--from <source run directory> is required")
    if not args.benchmark:
        raise ValueError("--benchmark is required (e.g. ML1/reach-v3, ML10, toy/1)")
    over = {
        k: getattr(args, k)
        for k in ("eval_episodes", "envs_per_skill", "batch_size", "seed")
        if getattr(args, k) is not None
    }
    return finetune_config(
        args.source,
        benchmark=args.benchmark,
        split=args.split,
        task_indices=args.task_indices,
        step=args.step,
        seed_index=args.seed_index,
        keep_buffer=args.keep_buffer,
        per=args.per,
        updates_per_step=args.updates_per_step,
        total_steps=args.total_steps,
        warmup_steps=args.warmup_steps,
        eval_every=args.eval_every,
        eval_source=not args.no_source_eval,
        out=args.out,
        **over,
    )


def finetune_main(p: argparse.ArgumentParser, args: argparse.Namespace, given: frozenset[str] | None = None) -> int:
    """Run `jaxmeta finetune` (parsed by `p` as `args`; `given`: the dests written on the command line, which
    --resume checks, see `jaxmeta.cli.given_flags`). Returns the exit status; errors exit through `p`."""
    from jaxmeta.checkpoint import CheckpointError, latest_step, prepare_run_dir

    try:
        cfg = finetune_config_from_args(args, given)
        if args.resume and latest_step(cfg.out_dir) is None:
            raise CheckpointError(f"nothing to resume: no checkpoint in {os.path.join(cfg.out_dir, 'checkpoints')!r}")
        _check_from_step(args, cfg)
        if args.dry_run:
            import json

            print(json.dumps(cfg.to_dict(), indent=2))
            print(
                f"skill_space={list(cfg.skill_space)} skill_ids={list(cfg.skill_ids)} num_envs={cfg.num_envs} "
                f"num_chunks={cfg.num_chunks} env_steps_per_chunk={cfg.env_steps_per_chunk} out={cfg.out_dir}"
            )
            return 0
        if not args.resume and not args.overwrite and cfg.out is not None:
            prepare_run_dir(cfg)  # refuse a non-empty --out before compiling
    except (ValueError, CheckpointError) as e:
        p.exit(2, f"jaxmeta finetune: error: {e}\n")

    return _launch(p, "finetune", lambda: importlib.import_module("jaxmeta.finetune").finetune, cfg, args)
