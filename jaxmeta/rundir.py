"""The run directory: its layout, the rules that keep what a user wrote, its config and error log.

Layout of a run directory (``TrainConfig.out_dir``)::

    <run>/config.json           the run's TrainConfig (JSON); marks the directory as a jaxmeta run
    <run>/metrics.csv           one row per (chunk, seed), plus evaluation rows   (jaxmeta.metrics_log)
    <run>/summary.json          final per-skill success, timings
    <run>/learning_curve.png
    <run>/tb/seed_<i>/events.out.tfevents.*.jaxmeta   TensorBoard scalars of metrics.csv (jaxmeta.tensorboard)
    <run>/wandb_run_id          with --wandb: the Weights & Biases run (its own files: <run>/wandb/)
    <run>/checkpoints/<env_steps>/{state,policy,config,meta}    orbax, the last `keep_checkpoints` kept
    <run>/error.log             library detail (tracebacks, TensorStore messages) of failures
    <run>/checkpoints-discarded/<env_steps>   checkpoints a resume skipped (corrupt, or newer than --from-step)

Run-directory safety (nothing a user made is ever deleted):

- a new run (no ``resume``) needs ``out`` to be missing or empty. With ``overwrite=True`` a non-empty
  ``out`` is accepted only if it is a jaxmeta run (has ``config.json``), and only the files jaxmeta
  writes there (the names above; of ``tb/`` only jaxmeta's event files) are removed; anything else in
  it (``wandb/`` included) stays. Otherwise it is refused.
- when no ``out`` was given (``TrainConfig.out is None``) and ``checkpoints/<run_name>`` is taken, a new
  run picks ``checkpoints/<run_name>-2``, ``-3``, ... instead.
- ``resume=True`` needs a checkpoint in ``out``; the stored config must match the current one except for
  the fields in `RESUMABLE_FIELDS` (e.g. ``total_steps`` to extend a run).

No orbax here: `jaxmeta.checkpoint` writes and reads the checkpoints inside it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
import traceback
from pathlib import Path

from jaxmeta.config import TrainConfig, migrate_config_dict
from jaxmeta.tensorboard import remove_event_files

__all__ = [
    "CKPT_DIR",
    "CONFIG_FILE",
    "CheckpointError",
    "DISCARDED_DIR",
    "ERROR_LOG",
    "RESUMABLE_FIELDS",
    "RUN_FILES",
    "TB_DIR",
    "WANDB_ID_FILE",
    "checkpoint_steps",
    "config_diff",
    "latest_step",
    "load_config",
    "log_error",
    "prepare_run_dir",
]

CONFIG_FILE = "config.json"
CKPT_DIR = "checkpoints"
TB_DIR = "tb"
WANDB_ID_FILE = "wandb_run_id"
ERROR_LOG = "error.log"
DISCARDED_DIR = "checkpoints-discarded"
RUN_FILES = (CONFIG_FILE, "metrics.csv", "summary.json", "learning_curve.png", WANDB_ID_FILE, ERROR_LOG)
# Fields that may differ between a checkpoint and the config resuming it (they do not change what a
# chunk computes). total_steps also sets the PER beta schedule length (see TrainConfig.total_updates).
RESUMABLE_FIELDS = frozenset(
    {"total_steps", "eval_every", "eval_episodes", "eval_policy", "checkpoint_every", "keep_checkpoints", "out"}
)


class CheckpointError(RuntimeError):
    """A missing, unreadable/corrupt or mismatched checkpoint, or an unsafe run directory."""


# -------------------------------------------------------------------------------------- run directory
def _nonempty(path: Path) -> bool:
    return path.exists() and (not path.is_dir() or any(path.iterdir()))


def prepare_run_dir(config: TrainConfig, *, resume: bool = False, overwrite: bool = False) -> Path:
    """Resolve and prepare the run directory (see module docstring for the rules). Returns it.

    Raises CheckpointError before anything is compiled."""
    if resume and overwrite:
        raise CheckpointError("--resume and --overwrite are exclusive")
    out = Path(config.out_dir)
    if out.exists() and not out.is_dir():
        raise CheckpointError(f"run directory {str(out)!r} exists and is not a directory")
    if resume:
        if latest_step(out) is None:
            raise CheckpointError(f"nothing to resume: no checkpoint in {str(out / CKPT_DIR)!r}")
        return out
    if _nonempty(out):
        if overwrite:
            if not (out / CONFIG_FILE).is_file():
                raise CheckpointError(
                    f"refusing to overwrite {str(out)!r}: it is not a jaxmeta run directory (no {CONFIG_FILE}); "
                    "choose another --out"
                )
            for name in RUN_FILES:
                if (out / name).is_file():
                    (out / name).unlink()
            if (out / CKPT_DIR).is_dir():
                shutil.rmtree(out / CKPT_DIR)
            remove_event_files(out / TB_DIR)
        elif config.out is None:
            base, i = out, 2
            while _nonempty(out):
                out = base.with_name(f"{base.name}-{i}")
                i += 1
        else:
            raise CheckpointError(
                f"run directory {str(out)!r} is not empty; pass --resume to continue it, --overwrite to "
                "replace its jaxmeta files, or another --out"
            )
    out.mkdir(parents=True, exist_ok=True)
    return out


def load_config(run_dir: str | os.PathLike) -> TrainConfig:
    """The TrainConfig stored in a run directory's config.json (CheckpointError naming the file and what
    to do when it is missing or corrupt; every checkpoint holds a copy of the config, see `read_config`)."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"no {CONFIG_FILE} in {str(run_dir)!r}: not a jaxmeta run directory")
    try:
        return TrainConfig.from_dict(json.loads(path.read_text()))
    except Exception as e:  # noqa: BLE001
        log_error(run_dir, f"unreadable {path}", e)
        raise CheckpointError(
            f"{str(path)!r} is corrupt ({type(e).__name__}: {_first_line(e)}); nothing was changed. Restore it, "
            f"or move it away: --resume then takes the config stored in the newest checkpoint"
        ) from e


def _first_line(e: BaseException, limit: int = 160) -> str:
    text = (str(e).strip().splitlines() or [""])[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _short_reason(e: BaseException) -> str:
    """One short phrase for a library error (TensorStore's messages run to hundreds of characters)."""
    text = str(e).split(" [tensorstore_spec")[0]
    code = re.match(r"([A-Z][A-Z_]+):", text)
    files = re.findall(r'local file "([^"]+)"', text)
    if files:  # TensorStore: '<CODE>: Error opening ...: Error reading ... of local file "<f>": <cause>; at byte ...'
        cause = text.rsplit(f'local file "{files[-1]}"', 1)[-1].lstrip('": ').split(";")[0].strip()
        cause = cause if len(cause) <= 90 else cause[:87] + "..."
        return f"{code.group(1) + ' ' if code else ''}{files[-1]}" + (f": {cause}" if cause else "")
    if isinstance(e, FileNotFoundError) or "FileNotFound" in type(e).__name__:
        return f"missing file {getattr(e, 'filename', None) or _first_line(e, 120)}"
    return f"{type(e).__name__}: {_first_line(e, 120)}"


def log_error(run_dir: str | os.PathLike | None, what: str, e: BaseException | None = None) -> Path | None:
    """Append `what` and the traceback of `e` to ``<run_dir>/error.log``; returns its path (None when
    the run directory does not exist or cannot be written: the detail is then lost, never raised)."""
    if run_dir is None or not Path(run_dir).is_dir():
        return None
    path = Path(run_dir) / ERROR_LOG
    try:
        with path.open("a") as f:
            f.write(f"==== {time.strftime('%Y-%m-%d %H:%M:%S %Z')} {what}\n")
            if e is not None:
                f.write("".join(traceback.format_exception(type(e), e, e.__traceback__)))
            f.write("\n")
    except OSError:
        return None
    return path


class _LibraryLogToFile:
    """While active, the ``absl`` logger (orbax's: warnings and thread tracebacks of a failed write or
    read) goes to ``<run>/error.log`` instead of the console."""

    def __init__(self, run_dir: str | os.PathLike):
        self.path = Path(run_dir) / ERROR_LOG

    def __enter__(self):
        import logging

        self.logger = logging.getLogger("absl")
        self.handler = None
        if self.path.parent.is_dir():
            self.handler = logging.FileHandler(self.path, delay=True)
            self.handler.setLevel(logging.WARNING)
            self.handler.setFormatter(logging.Formatter("==== %(asctime)s %(levelname)s %(name)s: %(message)s"))
            self.logger.addHandler(self.handler)
        self.propagate, self.logger.propagate = self.logger.propagate, False
        return self

    def __exit__(self, *exc):
        self.logger.propagate = self.propagate
        if self.handler is not None:
            self.logger.removeHandler(self.handler)
            self.handler.close()
        return False


def checkpoint_steps(run_dir: str | os.PathLike) -> list[int]:
    """Steps (env steps) of the checkpoint directories in ``run_dir/checkpoints``, ascending (orbax's
    unfinished ``<step>.orbax-checkpoint-tmp-*`` directories are not checkpoints)."""
    d = Path(run_dir) / CKPT_DIR
    if not d.is_dir():
        return []
    return sorted(int(p.name) for p in d.iterdir() if p.is_dir() and p.name.isdigit())


def latest_step(run_dir: str | os.PathLike) -> int | None:
    """Largest checkpoint step (env steps) in ``run_dir/checkpoints``, or None."""
    steps = checkpoint_steps(run_dir)
    return steps[-1] if steps else None


def config_diff(saved: TrainConfig | dict, current: TrainConfig, ignore=RESUMABLE_FIELDS) -> dict:
    """{field: (saved, current)} of differing fields (nested configs compared field by field). A saved
    dict lacking fields added since it was written (e.g. ``ppo``) compares with their defaults."""
    if isinstance(saved, TrainConfig):
        a = saved.to_dict()
    else:
        a = migrate_config_dict(saved)
        try:
            a = TrainConfig.from_dict(a).to_dict()
        except (ValueError, TypeError):  # not a valid config today: compare the fields as they are
            pass
    b = current.to_dict()
    out = {}
    for k in sorted(set(a) | set(b)):
        if k in ignore:
            continue
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            for kk in sorted(set(va) | set(vb)):
                if va.get(kk) != vb.get(kk):
                    out[f"{k}.{kk}"] = (va.get(kk), vb.get(kk))
        elif va != vb:
            out[k] = (va, vb)
    return out
