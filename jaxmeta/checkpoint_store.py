"""How a training state sits in an orbax checkpoint of a run directory: the four items (`ITEMS`), the
state packed as flat non-empty leaves, its leaf signature (key path, shape, dtype of every leaf; saved
signatures are read with renamed key paths under today's names), the checkpoint manager, and the helpers
that turn storage failures into one-line errors (`jaxmeta.checkpoint` builds on these)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmeta.rundir import CKPT_DIR, CheckpointError, _short_reason, checkpoint_steps, log_error

ITEMS = ("state", "policy", "config", "meta")


def _ocp():
    import orbax.checkpoint as ocp

    return ocp


def _manager(run_dir: Path, keep: int | None, read_only: bool = False):
    _quiet_closed_loop_errors()
    ocp = _ocp()
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep,
        create=not read_only,  # (orbax's read_only option only logs warnings; create=False suffices)
        enable_async_checkpointing=False,  # the state is donated to the next chunk right after
    )
    return ocp.CheckpointManager((Path(run_dir) / CKPT_DIR).absolute(), options=options, item_names=ITEMS)


def _pack(state: Any) -> dict:
    """Flat {"000123": leaf} of the non-empty leaves (orbax cannot store zero-size arrays, and mjx.Data
    has some, e.g. ``act`` of an actuator-free model). Leaf order is jax.tree's; empty leaves are
    rebuilt from the abstract state on restore."""
    return {f"{i:06d}": x for i, x in enumerate(jax.tree.leaves(state)) if int(np.prod(np.shape(x))) > 0}


def _unpack(packed: dict, abstract: Any) -> Any:
    leaves, treedef = jax.tree.flatten(abstract)
    out = []
    for i, a in enumerate(leaves):
        if int(np.prod(a.shape)) == 0:
            x = jnp.zeros(a.shape, a.dtype)
            out.append(jax.device_put(x, a.sharding) if getattr(a, "sharding", None) is not None else x)
        else:
            out.append(packed[f"{i:06d}"])
    return jax.tree.unflatten(treedef, out)


#: Key-path names renamed since checkpoints were first written (the task -> skill renames); a saved leaf
#: signature is read with them replaced (`_migrated`), so older checkpoints still restore.
_RENAMED_KEYS = {"task_id": "skill_id", "task_ids": "skill_ids", "task_counts": "skill_counts"}

_OLD_KEY = re.compile(r"(?<=[.'])(\w*per_task\w*|" + "|".join(_RENAMED_KEYS) + r")(?=['\].]|$)")


def _migrated(meta: dict) -> dict:
    """`meta` with its leaf signature's key paths under today's names."""
    leaves = meta.get("leaves")
    if not isinstance(leaves, list):
        return meta

    def new(m: re.Match) -> str:
        k = m.group(1)
        return _RENAMED_KEYS.get(k) or k.replace("per_task", "per_skill")

    out = [
        [_OLD_KEY.sub(new, x[0]), *x[1:]] if isinstance(x, list) and x and isinstance(x[0], str) else x for x in leaves
    ]
    return {**meta, "leaves": out}


def _leaf_signature(tree: Any) -> list:
    return [
        [jax.tree_util.keystr(p), list(np.shape(x)), str(np.dtype(x.dtype))]
        for p, x in jax.tree_util.tree_flatten_with_path(tree)[0]
    ]


def _see(log: Path | None) -> str:
    return f"; details in {log}" if log is not None else ""


def _errno_of(e: BaseException) -> int | None:
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno:
            return e.errno
        e = e.__cause__ or e.__context__
    return None


def _write_error(run_dir: Path, step: int, e: BaseException) -> CheckpointError:
    """The error of a failed checkpoint write: what failed, what to do, which checkpoint is intact."""
    import errno as E

    log = log_error(run_dir, f"writing checkpoint {step} failed", e)
    code, text = _errno_of(e), str(e)
    if code == E.ENOSPC or "No space left" in text:
        why, fix = "the disk is full", "free space"
    elif code in (E.EACCES, E.EPERM, E.EROFS) or "Permission denied" in text or "Read-only file system" in text:
        why, fix = "the directory is not writable", "make it writable"
    else:
        why, fix = _short_reason(e), "fix the cause"
    intact = [s for s in checkpoint_steps(run_dir) if s != step]
    prev = f"checkpoint {intact[-1]} is intact" if intact else "there is no earlier checkpoint"
    return CheckpointError(
        f"could not write checkpoint {step} to {str(run_dir / CKPT_DIR)!r}: {why}; {prev}: {fix}, "
        f"then continue with --resume{_see(log)}"
    )


class _Unusable(Exception):
    """A checkpoint that is incomplete or does not read (a fault, unlike a config mismatch)."""


class _AbortedStorageTaskFilter:
    """Drops asyncio's "Task exception was never retrieved" and "Future exception was never retrieved"
    records whose exception is a TensorStore / orbax storage error: after one array of a checkpoint fails
    to read, orbax stops awaiting the others, and their failures (the same corruption) are reported when
    the tasks or futures are garbage-collected."""

    _jaxmeta_quiet = True
    _MESSAGES = ("Task exception was never retrieved", "Future exception was never retrieved")

    def filter(self, record) -> bool:
        if not record.getMessage().startswith(self._MESSAGES):
            return True
        exc = record.exc_info[1] if record.exc_info else None
        text = f"{type(exc).__name__}: {exc}" if exc is not None else record.getMessage()
        return not any(k in text for k in ("tensorstore", "OCDBT", "DATA_LOSS", "orbax"))


def _quiet_closed_loop_errors() -> None:
    """After a failed orbax read or write, TensorStore threads still complete the aborted operations'
    futures and call back into orbax's closed asyncio loop; each callback's ``RuntimeError('Event loop is closed')``
    reaches `sys.unraisablehook`, which would print a traceback per array to the console. Those (and
    only those) are dropped, as are asyncio's "Task exception was never retrieved" records of the aborted
    reads' storage errors (`_AbortedStorageTaskFilter`): the failure itself is reported and logged in
    error.log. Installed (once) by `_manager`, i.e. before any orbax operation."""
    import logging
    import sys

    aio = logging.getLogger("asyncio")
    if not any(getattr(f, "_jaxmeta_quiet", False) for f in aio.filters):
        aio.addFilter(_AbortedStorageTaskFilter())
    prev = sys.unraisablehook
    if getattr(prev, "_jaxmeta_quiet", False):
        return

    def hook(u):
        if isinstance(u.exc_value, RuntimeError) and str(u.exc_value) == "Event loop is closed":
            return
        prev(u)

    hook._jaxmeta_quiet = True
    sys.unraisablehook = hook
