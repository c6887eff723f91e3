"""Checkpoints (orbax): full, exactly resumable training state; policy-only export; run-directory safety.

Layout of a run directory (``TrainConfig.out_dir``)::

    <run>/config.json           the run's TrainConfig (JSON); marks the directory as a jaxmeta run
    <run>/metrics.csv           one row per (chunk, seed), plus evaluation rows   (jaxmeta.metrics_log)
    <run>/summary.json          final per-task success, timings
    <run>/learning_curve.png
    <run>/tb/seed_<i>/events.out.tfevents.*.jaxmeta   TensorBoard scalars of metrics.csv (jaxmeta.tensorboard)
    <run>/wandb_run_id          with --wandb: the Weights & Biases run (its own files: <run>/wandb/)
    <run>/checkpoints/<env_steps>/{state,policy,config,meta}    orbax, the last `keep_checkpoints` kept

A checkpoint is written at chunk boundaries and holds: ``state`` = the whole `TrainState` (actor /
critic / target params, optimizer states, log_alpha, replay buffer incl. priorities, env state, PRNG
keys, counters), ``policy`` = actor and critic params alone (small; what `restore_policy` reads),
``config`` = the TrainConfig as JSON, ``meta`` = the loop position (chunk index, env steps, ...).
Restoring it and running the remaining chunks gives bit-identical metrics and parameters to an
uninterrupted run with the same config (the programs are deterministic; evaluation keys depend only on
the chunk index).

Run-directory safety (nothing a user made is ever deleted):

- a new run (no ``resume``) needs ``out`` to be missing or empty. With ``overwrite=True`` a non-empty
  ``out`` is accepted only if it is a jaxmeta run (has ``config.json``), and only the files jaxmeta
  writes there (the names above; of ``tb/`` only jaxmeta's event files) are removed; anything else in
  it (``wandb/`` included) stays. Otherwise it is refused.
- when no ``out`` was given (``TrainConfig.out is None``) and ``checkpoints/<run_name>`` is taken, a new
  run picks ``checkpoints/<run_name>-2``, ``-3``, ... instead.
- ``resume=True`` needs a checkpoint in ``out``; the stored config must match the current one except for
  the fields in `RESUMABLE_FIELDS` (e.g. ``total_steps`` to extend a run).
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxmeta.config import TrainConfig
from jaxmeta.tensorboard import remove_event_files

__all__ = [
    "CheckpointError",
    "Checkpointer",
    "RESUMABLE_FIELDS",
    "config_diff",
    "latest_step",
    "load_config",
    "prepare_run_dir",
    "read_checkpoint",
    "restore_policy",
]

CONFIG_FILE = "config.json"
CKPT_DIR = "checkpoints"
TB_DIR = "tb"
WANDB_ID_FILE = "wandb_run_id"
RUN_FILES = (CONFIG_FILE, "metrics.csv", "summary.json", "learning_curve.png", WANDB_ID_FILE)
# Fields that may differ between a checkpoint and the config resuming it (they do not change what a
# chunk computes). total_steps also sets the PER beta schedule length (see TrainConfig.total_updates).
RESUMABLE_FIELDS = frozenset({"total_steps", "eval_every", "eval_episodes", "checkpoint_every",
                              "keep_checkpoints", "out"})


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
    """The TrainConfig stored in a run directory's config.json."""
    path = Path(run_dir) / CONFIG_FILE
    if not path.is_file():
        raise CheckpointError(f"no {CONFIG_FILE} in {str(run_dir)!r}: not a jaxmeta run directory")
    try:
        return TrainConfig.from_dict(json.loads(path.read_text()))
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(f"unreadable config {str(path)!r}: {e}") from e


def config_diff(saved: TrainConfig | dict, current: TrainConfig, ignore=RESUMABLE_FIELDS) -> dict:
    """{field: (saved, current)} of differing fields (nested configs compared field by field)."""
    a = saved.to_dict() if isinstance(saved, TrainConfig) else saved
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


# -------------------------------------------------------------------------------------------- orbax
def _ocp():
    import orbax.checkpoint as ocp

    return ocp


def latest_step(run_dir: str | os.PathLike) -> int | None:
    """Largest checkpoint step (env steps) in ``run_dir/checkpoints``, or None."""
    d = Path(run_dir) / CKPT_DIR
    if not d.is_dir():
        return None
    steps = [int(p.name) for p in d.iterdir() if p.is_dir() and p.name.isdigit()]
    return max(steps) if steps else None


def _manager(run_dir: Path, keep: int | None, read_only: bool = False):
    ocp = _ocp()
    options = ocp.CheckpointManagerOptions(
        max_to_keep=keep,
        create=not read_only,  # (orbax's read_only option only logs warnings; create=False suffices)
        enable_async_checkpointing=False,  # the state is donated to the next chunk right after
    )
    return ocp.CheckpointManager(
        (Path(run_dir) / CKPT_DIR).absolute(), options=options, item_names=("state", "policy", "config", "meta")
    )


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


def _leaf_signature(tree: Any) -> list:
    return [[jax.tree_util.keystr(p), list(np.shape(x)), str(np.dtype(x.dtype))]
            for p, x in jax.tree_util.tree_flatten_with_path(tree)[0]]


def _policy_of(state: Any) -> dict:
    """Default policy export of a `jaxmeta.train.TrainState` whose agent keeps ``actor_params`` /
    ``critic_params`` (SAC); other learners pass their policy to `Checkpointer.save`."""
    return {"actor_params": state.agent.actor_params, "critic_params": state.agent.critic_params}


class Checkpointer:
    """Save / restore full training states of one run directory (keeps the last `keep`)."""

    def __init__(self, run_dir: str | os.PathLike, keep: int = 3):
        self.run_dir = Path(run_dir)
        self._mngr = _manager(self.run_dir, keep)

    def save(self, step: int, state: Any, config: TrainConfig, meta: dict, policy: dict | None = None) -> None:
        """Synchronously write a checkpoint at `step` (env steps); replaces an existing one.

        policy: ``{"actor_params", "critic_params"}`` stored beside the full state for `restore_policy`
        (default: read from ``state.agent``)."""
        ocp = _ocp()
        if step in self._mngr.all_steps():
            self._mngr.delete(step)
        meta = {**meta, "leaves": _leaf_signature(state)}
        self._mngr.save(
            int(step),
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(_pack(state)),
                policy=ocp.args.StandardSave(_policy_of(state) if policy is None else policy),
                config=ocp.args.JsonSave(config.to_dict()),
                meta=ocp.args.JsonSave(meta),
            ),
        )
        self._mngr.wait_until_finished()

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
            meta = self._mngr.restore(step, args=ocp.args.Composite(meta=ocp.args.JsonRestore()))["meta"]
            want = _leaf_signature(abstract_state)
            if meta.get("leaves") != want:
                got = meta.get("leaves") or []
                first = next((f"{a} vs expected {b}" for a, b in zip(got, want) if a != b),
                             f"{len(got)} leaves vs expected {len(want)}")
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
        self._mngr.close()


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
        items = {"config": ocp.args.JsonRestore(), "meta": ocp.args.JsonRestore()}
        if state:
            items["state"] = ocp.args.StandardRestore()
        out = mngr.restore(step, args=ocp.args.Composite(**items))
        cfg = TrainConfig.from_dict(out["config"])
        meta = dict(out["meta"])
        if not isinstance(meta.get("leaves"), list):
            raise ValueError("meta has no leaf signature")
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(f"checkpoint {str(path)!r} is unreadable or corrupt: {e}") from e
    finally:
        mngr.close()
    res = {"config": cfg, "meta": meta, "step": int(step)}
    if state:
        res["state"] = out["state"]
    return res


def restore_policy(run_dir: str | os.PathLike, step: int | None = None, seed_index: int | None = None) -> dict:
    """Actor/critic parameters of a run for fine-tuning or transfer elsewhere (no env, no compile).

    Returns ``{"actor_params", "critic_params", "network_config" (NetworkConfig, with num_tasks and
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
        out = mngr.restore(step, args=ocp.args.Composite(policy=ocp.args.StandardRestore(), config=ocp.args.JsonRestore()))
        policy, saved = out["policy"], out["config"]
    except Exception as e:  # noqa: BLE001
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

