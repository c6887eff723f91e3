"""Command-line flags as configuration: the value parsers of `jaxmeta.cli`, the table type mapping a
flag to TrainConfig fields (`_Flag`), and `_resume_config`: a saved config with the resumable flags applied,
every other given flag checked against it; and what the sub-commands share: the resume-directory and
``--from-step`` checks, which flags the command line gave (`_given_flags`), the one-line failure exit (`_fail`).

A flag's value goes to one or more fields, dotted for nested configs (``sac.actor_lr``) and ``finetune.*``
for the FinetuneConfig of a fine-tuning run; a flag is resumable when all its fields are in
`jaxmeta.rundir.RESUMABLE_FIELDS`. Parser errors are `argparse.ArgumentTypeError` naming the bad text.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from fractions import Fraction
from typing import Any, Callable, NamedTuple


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


class _WandbFlag(argparse.Action):
    """``--wandb`` (store true): a missing wandb package is a parsing error, before anything compiles."""

    def __init__(self, option_strings, dest, **kw):
        super().__init__(option_strings, dest, nargs=0, default=False, **kw)

    def __call__(self, parser, namespace, values, option_string=None):
        from jaxmeta.metrics_log import import_wandb

        try:
            import_wandb()
        except ImportError as e:
            raise argparse.ArgumentError(self, str(e)) from None
        setattr(namespace, self.dest, True)


_FROM_STEP_HELP = (
    "with --resume: continue from this checkpoint (env steps) instead of the newest intact one; "
    "the newer checkpoints are moved to <out>/checkpoints-discarded/"
)
_WANDB_HELP = (
    "also log the metrics (always in <out>/tb/ for TensorBoard) and the config to Weights & Biases "
    "(pip install wandb; WANDB_MODE=offline logs locally, WANDB_PROJECT names the project)"
)


class _Flag(NamedTuple):
    """A command-line flag that sets TrainConfig fields (dotted: nested configs; ``finetune.*``: the
    FinetuneConfig of a fine-tuning run). `values` maps the parsed value to {field: value}
    (default: the value for every field)."""

    dest: str
    flag: str
    fields: tuple[str, ...]
    values: Callable[[Any], dict] | None = None

    def overrides(self, v) -> dict:
        return self.values(v) if self.values is not None else {f: v for f in self.fields}

    @property
    def resumable(self) -> bool:
        from jaxmeta.rundir import RESUMABLE_FIELDS

        return all(f in RESUMABLE_FIELDS for f in self.fields)


def _simple(dest: str, flag: str | None = None, field: str | None = None) -> _Flag:
    return _Flag(dest, flag or "--" + dest.replace("_", "-"), (field or dest,))


_RATIO_FIELDS = ("updates_per_step", "steps_per_update")
_ratio_values = lambda v: dict(zip(_RATIO_FIELDS, v))  # noqa: E731

# parser dests that are not configuration (accepted with --resume)
_NOT_CONFIG = frozenset(
    {"command", "resume", "overwrite", "no_progress", "dry_run", "num_devices_flag", "wandb", "from_step"}
)
_DISTRIBUTED_FLAGS = frozenset({"distributed", "coordinator", "num_processes", "process_id"})  # train only


def for_algo(fields: dict, algo: str) -> dict:
    """The overrides of `fields` that concern `algo`: a flag that sets fields of several algorithms sets
    those of the algorithm that runs: ``--lr`` / ``--discount`` the ``ppo.*`` ones for PPO / RL2 and the
    ``sac.*`` ones for the others; ``--meta-batch`` PEARL's tasks per update for PEARL, else Reptile's."""
    from jaxmeta.config import ON_POLICY

    other = ("sac." if algo in ON_POLICY else "ppo.", "reptile.meta_batch" if algo == "pearl" else "pearl.meta_batch")
    return {k: v for k, v in fields.items() if not k.startswith(other)}


def _field(cfg, path: str):
    for part in path.split("."):
        cfg = getattr(cfg, part)
    return cfg


def _apply(cfg, fields: dict):
    """`cfg` with `fields` (TrainConfig.replace keys, plus ``finetune.*``) set."""
    ft = {k.split(".", 1)[1]: v for k, v in fields.items() if k.startswith("finetune.")}
    rest = {k: v for k, v in fields.items() if not k.startswith("finetune.")}
    if ft:
        if cfg.finetune is None:
            raise ValueError("not a fine-tuning run")
        rest["finetune"] = dataclasses.replace(cfg.finetune, **ft)
    return cfg.replace(**rest) if rest else cfg


def _show(v) -> str:
    return ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)


def _flag_text(spec: _Flag, v) -> str:
    if isinstance(v, bool):
        return spec.flag if v else "--no-" + spec.flag[2:]
    if spec.fields == _RATIO_FIELDS:
        return f"{spec.flag} {v[0]}" + (f"/{v[1]}" if v[1] != 1 else "")
    return f"{spec.flag} {_show(v)}"


def _resume_config(saved, args: argparse.Namespace, given, flags: tuple[_Flag, ...]):
    """The saved config of a run with the resumable flags of `args` applied (ValueError naming any
    other given flag whose value differs from the saved config)."""
    from jaxmeta.rundir import config_diff

    by_dest = {s.dest: s for s in flags}
    allowed = ", ".join(s.flag for s in flags if s.resumable)
    bad = []
    other = sorted(set(given) - set(by_dest) - _NOT_CONFIG - _DISTRIBUTED_FLAGS - {"preset"})
    for dest in [s.dest for s in flags if s.dest in given] + other:
        spec = by_dest.get(dest)
        if spec is None:
            bad.append(f"--{dest.replace('_', '-')} is not accepted")
            continue
        if spec.resumable:
            continue
        v = getattr(args, dest)
        fields = for_algo(spec.overrides(v), saved.algo)
        try:
            same = not config_diff(saved, _apply(saved, fields))
        except (ValueError, TypeError):
            same = False
        if not same:
            now = ", ".join(f"{f} {_show(_field(saved, f))}" for f in spec.fields if f in fields)
            bad.append(f"{_flag_text(spec, v)} differs from the run's saved config ({now})")
    if bad:
        raise ValueError(
            f"{'; '.join(bad)}; --resume only accepts {allowed} (other flags may only repeat the saved values)"
        )
    over = {}
    for spec in flags:
        if spec.resumable and spec.dest in given:
            over.update(spec.overrides(getattr(args, spec.dest)))
    over["out"] = args.out
    return _apply(saved, over)


# ------------------------------------------------------------------------- shared by the sub-commands
_UNSET = object()


def _check_resume_dir(out: str | None, command: str):
    """The saved config of the run directory `out` to resume (CheckpointError / ValueError otherwise)."""
    from jaxmeta.checkpoint import CKPT_DIR, CheckpointError, latest_step, read_config

    if not out:
        raise ValueError(
            f"--resume needs --out DIR (the {'fine-tuning ' if command == 'finetune' else ''}run directory to continue)"
        )
    if latest_step(out) is None:
        raise CheckpointError(f"nothing to resume: no checkpoint in {os.path.join(out, CKPT_DIR)!r}")
    saved = read_config(out)
    if command == "train" and saved.finetune is not None:
        raise ValueError(f"{out!r} is a fine-tuning run (use jaxmeta finetune --resume --out {out})")
    if command == "finetune" and saved.finetune is None:
        raise ValueError(f"{out!r} is not a fine-tuning run (use jaxmeta train --resume --out {out})")
    return saved


def _check_from_step(args: argparse.Namespace, cfg) -> None:
    """--from-step needs --resume and one of the run's checkpoints (the error lists them)."""
    from jaxmeta.checkpoint import CKPT_DIR, CheckpointError, checkpoint_steps

    if args.from_step is None:
        return
    if not args.resume:
        raise ValueError("--from-step chooses the checkpoint to resume from: it needs --resume")
    steps = checkpoint_steps(cfg.out_dir)
    if args.from_step not in steps:
        raise CheckpointError(
            f"no checkpoint at step {args.from_step} in "
            f"{os.path.join(cfg.out_dir, CKPT_DIR)!r}; the checkpoints there: "
            f"{', '.join(map(str, steps))}"
        )


def _fail(p: argparse.ArgumentParser, command: str, e: BaseException, run_dir) -> None:
    """Print an error of a run in a line or two and exit: ValueError / CheckpointError (their messages
    name the problem; status 2), anything else (status 1) with its traceback appended to
    ``<run>/error.log`` instead of the console."""
    from jaxmeta.checkpoint import CheckpointError, log_error

    if isinstance(e, (ValueError, CheckpointError)):
        p.exit(2, f"jaxmeta {command}: error: {e}\n")
    log = log_error(run_dir, f"jaxmeta {command} failed", e)
    text = (str(e).strip().splitlines() or [""])[0]
    text = text if len(text) <= 200 else text[:197] + "..."
    where = (
        f"the full traceback is in {log}"
        if log is not None
        else f"(the traceback could not be written to {os.path.join(str(run_dir), 'error.log')})"
    )
    p.exit(1, f"jaxmeta {command}: error: {type(e).__name__}: {text}\n  {where}\n")


def _given_flags(p: argparse.ArgumentParser, argv: list[str] | None, args: argparse.Namespace) -> frozenset[str]:
    """Dests of the options written on the command line `argv` (parsed by `p` as `args`), whether or not
    their value equals the default: `argv` is parsed again by `p` with every default of its sub-command
    (``p.subcommands[args.command]``) replaced by a sentinel, so `p` is changed: pass a fresh parser."""
    p.subcommands[args.command].set_defaults(**{k: _UNSET for k in vars(args) if k != "command"})
    ns = p.parse_args(sys.argv[1:] if argv is None else argv)
    return frozenset(k for k, v in vars(ns).items() if v is not _UNSET and k != "command")


def _nondefault_of(p: argparse.ArgumentParser, args: argparse.Namespace) -> frozenset[str]:
    """Dests whose parsed value differs from the default of `p`'s sub-command ``args.command``."""
    defaults = vars(p.parse_args([args.command]))
    return frozenset(k for k, v in vars(args).items() if k in defaults and v != defaults[k])


def _launch(
    p: argparse.ArgumentParser, command: str, load: Callable[[], Callable], cfg, args: argparse.Namespace
) -> int:
    """Run a checked config: enable the persistent compilation cache, then ``load()`` (the run function,
    imported only now) on `cfg` with the run flags of `args`. Exit status 0 if the run completed, else 1;
    a failure exits through `_fail`."""
    from envs._runtime import enable_compilation_cache

    enable_compilation_cache()
    run = load()
    try:
        summary = run(
            cfg,
            resume=args.resume,
            overwrite=args.overwrite,
            progress=not args.no_progress,
            num_devices=args.num_devices_flag,
            wandb=args.wandb,
            from_step=args.from_step,
        )
    except Exception as e:  # noqa: BLE001
        _fail(p, command, e, cfg.out_dir)
    return 0 if summary["completed"] else 1
