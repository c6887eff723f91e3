"""Checkpoints (orbax): the full, exactly resumable training state and a policy-only export; resume.

The run directory (layout, safety rules, config.json, error.log) is `jaxmeta.rundir`; its names are
re-exported here. How the state sits in orbax's items is `jaxmeta.checkpoint_store`.

A checkpoint is written at chunk boundaries and holds: ``state`` = the whole `TrainState` (actor /
critic / target params, optimizer states, log_alpha, replay buffer incl. priorities, env state, PRNG
keys, counters), ``policy`` = actor and critic params alone (small; what `restore_policy` reads),
``config`` = the TrainConfig as JSON, ``meta`` = the loop position (chunk index, env steps, ...).
Restoring it and running the remaining chunks gives bit-identical metrics and parameters to an
uninterrupted run with the same config (the programs are deterministic; evaluation keys depend only on
the chunk index).

Faults (`find_resume_point`, docs/reliability.md): before anything compiles, a resume reads the whole
checkpoint it will continue (config, meta, every state array, the policy). A newest checkpoint that is
incomplete (a directory missing items) or unreadable/corrupt is skipped for the newest intact one, with
one line naming both steps; the skipped checkpoints (and any newer than an explicitly chosen
``from_step``) are moved, not deleted, to ``<run>/checkpoints-discarded/<step>[-k]`` so that the resumed
run writes its own. orbax writes a checkpoint into ``<step>.orbax-checkpoint-tmp-*`` and renames it when
complete, so a write interrupted by a kill or a full disk leaves only that temporary directory, which
nothing reads. A failed write raises `CheckpointError` naming the directory and what to do; the earlier
checkpoints are untouched. Library detail of a failure (TensorStore / orbax messages and tracebacks) is
appended to ``<run>/error.log`` (`log_error`); messages keep to a line or two.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmeta.checkpoint_store import (  # noqa: F401  (ITEMS, _quiet_closed_loop_errors: re-exported)
    ITEMS,
    _errno_of,
    _leaf_signature,
    _manager,
    _migrated,
    _ocp,
    _pack,
    _quiet_closed_loop_errors,
    _see,
    _unpack,
    _Unusable,
    _write_error,
)
from jaxmeta.config import TrainConfig
from jaxmeta.rundir import (  # noqa: F401  (re-exported: the old home of the run-directory names)
    CKPT_DIR,
    CONFIG_FILE,
    DISCARDED_DIR,
    ERROR_LOG,
    RESUMABLE_FIELDS,
    RUN_FILES,
    TB_DIR,
    WANDB_ID_FILE,
    CheckpointError,
    _first_line,
    _LibraryLogToFile,
    _short_reason,
    checkpoint_steps,
    config_diff,
    latest_step,
    load_config,
    log_error,
    prepare_run_dir,
)


__all__ = [
    "CheckpointError",
    "Checkpointer",
    "RESUMABLE_FIELDS",
    "ResumePoint",
    "checkpoint_steps",
    "config_diff",
    "discard_newer",
    "find_resume_point",
    "latest_step",
    "log_error",
    "load_config",
    "prepare_run_dir",
    "read_checkpoint",
    "read_config",
    "restore_policy",
]


def read_config(run_dir: str | os.PathLike) -> TrainConfig:
    """The run's config: ``config.json``, or, when that file is missing but checkpoints exist, the
    config stored in the newest checkpoint that reads (a copy of the same file)."""
    run_dir = Path(run_dir)
    if (run_dir / CONFIG_FILE).is_file() or not checkpoint_steps(run_dir):
        return load_config(run_dir)
    ocp = _ocp()
    for step in reversed(checkpoint_steps(run_dir)):
        mngr = _manager(run_dir, None, read_only=True)
        try:
            return TrainConfig.from_dict(
                mngr.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore()))["config"]
            )
        except Exception as e:  # noqa: BLE001
            _quiet_closed_loop_errors()
            log_error(run_dir, f"config of checkpoint {step} unreadable", e)
        finally:
            mngr.close()
    raise CheckpointError(
        f"no {CONFIG_FILE} in {str(run_dir)!r} and no checkpoint there holds a readable config: "
        "not a jaxmeta run directory"
    )


def _policy_of(state: Any) -> dict:
    """Default policy export of a `jaxmeta.train.TrainState` whose agent keeps ``actor_params`` /
    ``critic_params`` (SAC); other learners pass their policy to `Checkpointer.save`."""
    return {"actor_params": state.agent.actor_params, "critic_params": state.agent.critic_params}


class Checkpointer:
    """Save / restore full training states of one run directory (keeps the last `keep`)."""

    def __init__(self, run_dir: str | os.PathLike, keep: int = 3):
        self.run_dir = Path(run_dir)
        self._failed = False
        try:
            self._mngr = _manager(self.run_dir, keep)
        except Exception as e:  # noqa: BLE001
            log = log_error(self.run_dir, f"opening {self.run_dir / CKPT_DIR} failed", e)
            raise CheckpointError(
                f"cannot open the checkpoint directory {str(self.run_dir / CKPT_DIR)!r} ({_short_reason(e)}){_see(log)}"
            ) from e

    def save(self, step: int, state: Any, config: TrainConfig, meta: dict, policy: dict | None = None) -> None:
        """Synchronously write a checkpoint at `step` (env steps); replaces an existing one.

        policy: ``{"actor_params", "critic_params"}`` stored beside the full state for `restore_policy`
        (default: read from ``state.agent``)."""
        ocp = _ocp()
        if step in self._mngr.all_steps():
            self._mngr.delete(step)
        meta = {**meta, "leaves": _leaf_signature(state)}
        args = ocp.args.Composite(
            state=ocp.args.StandardSave(_pack(state)),
            policy=ocp.args.StandardSave(_policy_of(state) if policy is None else policy),
            config=ocp.args.JsonSave(config.to_dict()),
            meta=ocp.args.JsonSave(meta),
        )
        try:
            with _LibraryLogToFile(self.run_dir):
                self._mngr.save(int(step), args=args)
                self._mngr.wait_until_finished()
        except Exception as e:  # noqa: BLE001  (disk full, unwritable directory, ...)
            _quiet_closed_loop_errors()
            self._failed = True
            raise _write_error(self.run_dir, int(step), e) from e

    def latest_step(self) -> int | None:
        return latest_step(self.run_dir)

    def restore(self, abstract_state: Any, config: TrainConfig, step: int | None = None) -> tuple[Any, dict]:
        """(state, meta) of checkpoint `step` (default: latest). `abstract_state`: a pytree of
        jax.ShapeDtypeStruct (with shardings) describing the state. Raises CheckpointError when there
        is no checkpoint, its config differs from `config` outside RESUMABLE_FIELDS, or it is corrupt."""
        ocp = _ocp()
        step = self.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(f"no checkpoint in {str(self.run_dir / CKPT_DIR)!r}")
        path = self.run_dir / CKPT_DIR / str(step)
        try:
            saved = self._mngr.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore()))["config"]
        except Exception as e:  # noqa: BLE001
            raise CheckpointError(f"checkpoint {str(path)!r} is unreadable or corrupt (config): {e}") from e
        diff = config_diff(saved, config)
        if diff:
            lines = ", ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, a, b in ((k, *v) for k, v in diff.items()))
            raise CheckpointError(f"checkpoint {str(path)!r} was written with a different config ({lines})")
        try:
            meta = _migrated(self._mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"])
            want = _leaf_signature(abstract_state)
            if meta.get("leaves") != want:
                got = meta.get("leaves") or []
                first = next(
                    (f"{a} vs expected {b}" for a, b in zip(got, want) if a != b),
                    f"{len(got)} leaves vs expected {len(want)}",
                )
                raise CheckpointError(f"checkpoint {str(path)!r} holds a differently shaped state ({first})")
            packed = self._mngr.restore(
                step, args=ocp.args.Composite(state=ocp.args.StandardRestore(_pack(abstract_state)))
            )["state"]
            state = _unpack(packed, abstract_state)
            _check_like(state, abstract_state)
        except CheckpointError:
            raise
        except Exception as e:  # noqa: BLE001
            raise CheckpointError(f"checkpoint {str(path)!r} is unreadable or corrupt: {e}") from e
        return state, meta

    def close(self) -> None:
        try:
            self._mngr.close()
        except Exception as e:  # noqa: BLE001
            if not self._failed:
                raise
            log_error(self.run_dir, "closing the checkpoint manager after a failed write", e)


# ------------------------------------------------------------------------------------------- resume


@dataclasses.dataclass
class ResumePoint:
    """The checkpoint a resume continues (`find_resume_point`), read before anything is compiled.

    step: env steps. meta: its meta item (chunk, env_steps, leaves, ...). packed: every non-empty
    state leaf as a host numpy array (`_pack` keys; `state_from` puts them on the devices). skipped:
    (step, reason) of the newer checkpoints that could not be used. discarded: (step, where it was
    moved) of every checkpoint newer than `step`."""

    step: int
    meta: dict
    packed: dict
    skipped: list = dataclasses.field(default_factory=list)
    discarded: list = dataclasses.field(default_factory=list)

    def state_from(self, abstract_state: Any) -> Any:
        """The TrainState: the arrays on the devices / shardings of `abstract_state` (jax.ShapeDtypeStruct
        leaves, as `Checkpointer.restore` takes). CheckpointError if it is not shaped like `abstract_state`."""
        want = _leaf_signature(abstract_state)
        got = self.meta.get("leaves") or []
        if got != want:
            first = next(
                (f"{a} vs expected {b}" for a, b in zip(got, want) if a != b),
                f"{len(got)} leaves vs expected {len(want)}",
            )
            raise CheckpointError(f"checkpoint {self.step} holds a differently shaped state ({first})")
        packed, self.packed = self.packed, {}  # (the host copy is dropped once on the devices)
        leaves, treedef = jax.tree.flatten(abstract_state)
        out = []
        for i, a in enumerate(leaves):
            x = packed[f"{i:06d}"] if int(np.prod(a.shape)) > 0 else np.zeros(a.shape, a.dtype)
            sh = getattr(a, "sharding", None)
            out.append(jax.device_put(x, sh) if sh is not None else jnp.asarray(x))
        state = jax.tree.unflatten(treedef, out)
        _check_like(state, abstract_state)
        return state


def _relative(text: str, run_dir: Path) -> str:
    return text.replace(str(run_dir.absolute()) + os.sep, "").replace(str(run_dir) + os.sep, "")


def _read_full(run_dir: Path, step: int, config: TrainConfig) -> tuple[dict, dict]:
    """(meta, packed host arrays) of checkpoint `step`, every item read. _Unusable when it is incomplete
    or unreadable; CheckpointError when it was written with a different config."""
    path = run_dir / CKPT_DIR / str(step)
    if not (path / "_CHECKPOINT_METADATA").is_file():
        raise _Unusable("incomplete: no _CHECKPOINT_METADATA")
    missing = [it for it in ITEMS if not (path / it).is_dir()]
    if missing:
        raise _Unusable(f"incomplete: no {', '.join(missing)}")
    ocp = _ocp()
    mngr = _manager(run_dir, None, read_only=True)
    try:
        with _LibraryLogToFile(run_dir):
            return _read_items(mngr, ocp, path, step, config)
    finally:
        mngr.close()


def _read_items(mngr, ocp, path: Path, step: int, config: TrainConfig) -> tuple[dict, dict]:
    """`_read_full` with an open read-only manager."""
    try:
        out = mngr.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore(), meta=ocp.args.JsonRestore()))
        saved, meta = dict(out["config"]), _migrated(dict(out["meta"]))
        TrainConfig.from_dict(saved)
        leaves = meta.get("leaves")
        if not isinstance(leaves, list) or "chunk" not in meta:
            raise ValueError("its meta item lacks the leaf signature / chunk")
    except Exception as e:  # noqa: BLE001
        raise _Unusable(_short_reason(e)) from e
    diff = config_diff(saved, config)
    if diff:
        lines = ", ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, (a, b) in diff.items())
        raise CheckpointError(f"checkpoint {str(path)!r} was written with a different config ({lines})")
    try:
        target = {
            f"{i:06d}": np.empty(tuple(shape), np.dtype(dtype))
            for i, (_, shape, dtype) in enumerate(leaves)
            if int(np.prod(shape)) > 0
        }
        out = mngr.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target), policy=ocp.args.StandardRestore())
        )
        packed = {k: np.asarray(v) for k, v in out["state"].items()}
        bad = [
            k for k, v in target.items() if k not in packed or packed[k].shape != v.shape or packed[k].dtype != v.dtype
        ]
        if bad or len(packed) != len(target):
            raise ValueError(f"state leaves {bad[:3]} differ from the leaf signature")
    except Exception as e:  # noqa: BLE001
        _quiet_closed_loop_errors()
        raise _Unusable(_short_reason(e)) from e
    return meta, packed


def _discard(run_dir: Path, step: int) -> Path:
    """Move checkpoint `step` to ``<run>/checkpoints-discarded/<step>[-k]`` (never deleted)."""
    base = run_dir / DISCARDED_DIR
    base.mkdir(exist_ok=True)
    dest, k = base / str(step), 2
    while dest.exists():
        dest, k = base / f"{step}-{k}", k + 1
    shutil.move(str(run_dir / CKPT_DIR / str(step)), str(dest))
    return dest


def find_resume_point(
    run_dir: str | os.PathLike, config: TrainConfig, from_step: int | None = None, *, discard: bool = True
) -> ResumePoint:
    """Read the checkpoint a resume of `run_dir` continues: `from_step`, or the newest intact one.

    Every item is read (config, meta, all state arrays, the policy), so a corrupt or incomplete
    checkpoint shows here, before anything compiles; one that is not usable is skipped for the next older
    (reasons in the result's `skipped`, library detail in ``<run>/error.log``). The checkpoints newer than
    the one returned are then moved to ``<run>/checkpoints-discarded/`` (orbax would not write a step
    below its newest one). CheckpointError when there is no checkpoint, `from_step` is not one (the
    message lists those there) or is unusable, none is usable, or the config differs (`config_diff`).
    discard=False: nothing is moved; the result's `discarded` lists the newer steps with None for where
    (`discard_newer` moves them later: a multi-process run moves them once every process has read)."""
    run_dir = Path(run_dir)
    where = str(run_dir / CKPT_DIR)
    steps = checkpoint_steps(run_dir)
    if not steps:
        raise CheckpointError(f"nothing to resume: no checkpoint in {where!r}")
    listing = ", ".join(map(str, steps))
    if from_step is not None and int(from_step) not in steps:
        raise CheckpointError(f"no checkpoint at step {int(from_step)} in {where!r}; the checkpoints there: {listing}")
    candidates = [int(from_step)] if from_step is not None else steps[::-1]
    skipped = []
    for step in candidates:
        try:
            meta, packed = _read_full(run_dir, step, config)
        except _Unusable as u:
            log_error(run_dir, f"checkpoint {step} unusable: {u}", u.__cause__ or u)
            skipped.append((step, _relative(str(u), run_dir)))
            continue
        break
    else:
        log = run_dir / ERROR_LOG if (run_dir / ERROR_LOG).is_file() else None
        why = "; ".join(f"{s}: {r}" for s, r in skipped)
        if from_step is not None:
            raise CheckpointError(
                f"checkpoint {from_step} in {where!r} is unusable ({why}); the checkpoints there: "
                f"{listing}; choose another with --from-step{_see(log)}"
            )
        (s0, r0), rest = skipped[0], [str(s) for s, _ in skipped[1:]]
        raise CheckpointError(
            f"no intact checkpoint in {where!r}: checkpoint {s0} is unusable ({r0})"
            + (f"; so are {', '.join(rest)}" if rest else "")
            + _see(log)
        )
    discarded = [(s, _discard(run_dir, s) if discard else None) for s in steps if s > step]
    return ResumePoint(step=step, meta=meta, packed=packed, skipped=skipped, discarded=discarded)


def discard_newer(run_dir: str | os.PathLike, point: ResumePoint) -> None:
    """Move the checkpoints a ``discard=False`` `find_resume_point` left in place (``point.discarded``
    entries without a destination) to ``<run>/checkpoints-discarded/``; fills in where they went."""
    point.discarded = [(s, _discard(Path(run_dir), s) if where is None else where) for s, where in point.discarded]


def _check_like(state: Any, abstract: Any) -> None:
    a = jax.tree.structure(state)
    b = jax.tree.structure(abstract)
    if a != b:
        raise CheckpointError(f"restored state structure differs from the expected one:\n{a}\nvs\n{b}")
    for x, y in zip(jax.tree.leaves(state), jax.tree.leaves(abstract)):
        if tuple(x.shape) != tuple(y.shape) or x.dtype != y.dtype:
            raise CheckpointError(f"restored leaf {x.shape} {x.dtype} != expected {y.shape} {y.dtype}")


def read_checkpoint(run_dir: str | os.PathLike, step: int | None = None, *, state: bool = True) -> dict:
    """Read a checkpoint of a run without knowing its state's structure and without writing anything
    (read-only manager: the directory is never modified). Returns ``{"config": TrainConfig, "meta":
    dict (incl. "leaves": [keystr path, shape, dtype] of every state leaf), "step": int, "state": {leaf
    index "000123": array} (only when `state`; zero-size leaves are absent, see `_pack`)}``.

    Raises CheckpointError for a missing directory / config / checkpoint, or an unreadable one."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory {str(run_dir)!r} does not exist")
    load_config(run_dir)  # a jaxmeta run directory with a readable config.json
    step = latest_step(run_dir) if step is None else int(step)
    if step is None or not (run_dir / CKPT_DIR / str(step)).is_dir():
        raise CheckpointError(f"no checkpoint{'' if step is None else f' {step}'} in {str(run_dir / CKPT_DIR)!r}")
    ocp = _ocp()
    path = run_dir / CKPT_DIR / str(step)
    mngr = _manager(run_dir, None, read_only=True)
    try:
        out = dict(
            mngr.restore(step, args=ocp.args.Composite(config=ocp.args.JsonRestore(), meta=ocp.args.JsonRestore()))
        )
        cfg = TrainConfig.from_dict(out["config"])
        meta = _migrated(dict(out["meta"]))
        if not isinstance(meta.get("leaves"), list):
            raise ValueError("meta has no leaf signature")
        if state:  # host arrays: readable whatever devices (and processes) wrote it
            target = {
                f"{i:06d}": np.empty(tuple(shape), np.dtype(dtype))
                for i, (_, shape, dtype) in enumerate(meta["leaves"])
                if int(np.prod(shape)) > 0
            }
            out["state"] = mngr.restore(step, args=ocp.args.Composite(state=ocp.args.StandardRestore(target)))["state"]
    except Exception as e:  # noqa: BLE001
        _quiet_closed_loop_errors()
        raise CheckpointError(f"checkpoint {str(path)!r} is unreadable or corrupt: {e}") from e
    finally:
        mngr.close()
    res = {"config": cfg, "meta": meta, "step": int(step)}
    if state:
        res["state"] = out["state"]
    return res


def restore_policy(run_dir: str | os.PathLike, step: int | None = None, seed_index: int | None = None) -> dict:
    """Actor/critic parameters of a run for fine-tuning or transfer elsewhere (no env, no compile).

    Returns ``{"actor_params", "critic_params", "network_config" (NetworkConfig, with num_skills and
    conditioning of the run), "config" (TrainConfig), "step" (env steps), "skills"}``. Params are
    nested dicts of jax arrays as flax expects (``networks.make_networks(network_config).actor_apply``
    works on them). Multi-seed runs have a leading seed axis on every leaf unless `seed_index` picks one.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise CheckpointError(f"run directory {str(run_dir)!r} does not exist")
    config = load_config(run_dir)
    step = latest_step(run_dir) if step is None else step
    if step is None or not (run_dir / CKPT_DIR / str(step)).is_dir():
        raise CheckpointError(f"no checkpoint{'' if step is None else f' {step}'} in {str(run_dir / CKPT_DIR)!r}")
    ocp = _ocp()
    mngr = _manager(run_dir, None, read_only=True)
    path = run_dir / CKPT_DIR / str(step)
    try:
        # host arrays shaped as stored: readable whatever devices (and processes) wrote the checkpoint
        stored = ocp.StandardCheckpointHandler().metadata((path / "policy").absolute())
        target = jax.tree.map(lambda m: np.empty(tuple(m.shape), m.dtype), stored)
        out = mngr.restore(
            step, args=ocp.args.Composite(policy=ocp.args.StandardRestore(target), config=ocp.args.JsonRestore())
        )
        policy, saved = out["policy"], out["config"]
    except Exception as e:  # noqa: BLE001
        _quiet_closed_loop_errors()
        raise CheckpointError(f"checkpoint {str(path)!r} is unreadable or corrupt: {e}") from e
    finally:
        mngr.close()
    cfg = TrainConfig.from_dict(saved)
    if config_diff(cfg, config, ignore=frozenset()):
        config = cfg  # the checkpoint's own config describes its params
    policy = jax.tree.map(jax.numpy.asarray, policy)
    if seed_index is not None:
        if config.num_seeds == 1:
            if seed_index != 0:
                raise CheckpointError(f"seed_index {seed_index} out of range: the run has 1 seed")
        else:
            if not 0 <= seed_index < config.num_seeds:
                raise CheckpointError(f"seed_index {seed_index} out of range [0, {config.num_seeds})")
            policy = jax.tree.map(lambda x: x[seed_index], policy)
    return {
        "actor_params": policy["actor_params"],
        "critic_params": policy["critic_params"],
        "network_config": dataclasses.replace(config.network),
        "config": config,
        "step": int(step),
        "skills": config.skills,
    }
