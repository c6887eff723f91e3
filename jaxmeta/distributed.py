"""Multi-process runs (`jax.distributed`): one controller process per host (or per accelerator), every
process running the same programs over the global device mesh (docs/distributed.md).

- `DistributedSpec` / `spec_from_flags`: where process 0 listens and which process this is; the explicit
  form (coordinator ``host:port``, number of processes, process id), or JAX's detection of SLURM, Open MPI,
  Kubernetes and Cloud TPU set-ups, or the variables ``JAX_COORDINATOR_ADDRESS`` / ``JAX_NUM_PROCESSES`` /
  ``JAX_PROCESS_ID``.
- `initialize(spec)`: ``jax.distributed.initialize`` (before anything touches the JAX backend; on a CPU
  the cross-process collectives are gloo's, JAX's default).
- `is_primary()`: process 0, the only one that writes a run's files (config.json, metrics.csv, tb/,
  summary.json, learning_curve.png, W&B) and prints; checkpoints are written by every process together
  (orbax: each writes the shards it holds).
- `to_host(tree)`: numpy copies, gathering the shards other processes hold (one collective per call).
- `agree(fn)`: ``fn`` runs on process 0; its JSON-able result, or its error, reaches every process.
- `gather(fn)`: ``fn`` runs on every process; the list of all their results (process order) on every
  process, or the error of the first process that failed, raised on every process.
- `barrier()`: every process waits for the others.

With one process all of these are the single-process behaviour (no collectives, `agree` just calls).
Calls that coordinate (`agree`, `barrier`, `to_host`) must be made by every process in the same order.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
from typing import Any, Callable, Mapping

import numpy as np

__all__ = [
    "DistributedSpec",
    "agree",
    "barrier",
    "gather",
    "initialize",
    "is_primary",
    "process_count",
    "spec_from_flags",
    "to_host",
]

ENV_VARS = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")
TIMEOUT_S = 1800  # how long `agree` / `barrier` wait for process 0 (it may be reading a large checkpoint)
_seq = itertools.count()  # the n-th coordinating call of this process (the same n on every process)


@dataclasses.dataclass(frozen=True)
class DistributedSpec:
    """coordinator: ``host:port`` that process 0 listens on (None: detected). num_processes, process_id:
    None: detected (SLURM, Open MPI, Kubernetes, Cloud TPU; `jax.distributed.initialize`)."""

    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None

    def __post_init__(self):
        c = self.coordinator
        if c is not None and not re.fullmatch(r"(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):[0-9]{1,5}", c):
            raise ValueError(f"coordinator must be host:port (e.g. 10.0.0.1:1234), got {c!r}")
        if c is not None and not 0 < int(c.rsplit(":", 1)[1]) < 65536:
            raise ValueError(f"coordinator port must be in [1, 65535], got {c!r}")
        n, i = self.num_processes, self.process_id
        if n is not None and (not isinstance(n, int) or n < 1):
            raise ValueError(f"num_processes must be an int >= 1, got {n!r}")
        if i is not None and (not isinstance(i, int) or i < 0 or (n is not None and i >= n)):
            raise ValueError(
                f"process_id must be an int in [0, num_processes{'' if n is None else f' = {n}'}), got {i!r}"
            )


def _env_int(environ: Mapping[str, str], name: str) -> int | None:
    v = environ.get(name)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        raise ValueError(f"{name} must be an integer, got {v!r}") from None


def spec_from_flags(
    distributed: bool,
    coordinator: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> DistributedSpec | None:
    """The spec of ``--distributed`` / ``--coordinator`` / ``--num-processes`` / ``--process-id`` (None: a
    single-process run). Any of the explicit flags implies --distributed; what they leave out comes from
    the JAX_* variables, then from JAX's cluster detection. Raises ValueError naming a bad value."""
    environ = os.environ if environ is None else environ
    if not (distributed or coordinator is not None or num_processes is not None or process_id is not None):
        return None
    coordinator = coordinator if coordinator is not None else (environ.get("JAX_COORDINATOR_ADDRESS") or None)
    num_processes = num_processes if num_processes is not None else _env_int(environ, "JAX_NUM_PROCESSES")
    process_id = process_id if process_id is not None else _env_int(environ, "JAX_PROCESS_ID")
    return DistributedSpec(coordinator, num_processes, process_id)


def initialize(spec: DistributedSpec, timeout_s: int = 300) -> None:
    """`jax.distributed.initialize` with `spec`; waits up to `timeout_s` for every process to connect.
    RuntimeError (one line) when the backend is already up or JAX cannot tell the missing values."""
    import jax
    from jax._src import xla_bridge

    if xla_bridge.backends_are_initialized():
        raise RuntimeError(
            "jax.distributed must be initialized before anything uses the JAX backend "
            "(call jaxmeta.distributed.initialize first)"
        )
    try:
        jax.distributed.initialize(
            spec.coordinator, spec.num_processes, spec.process_id, initialization_timeout=int(timeout_s)
        )
    except ValueError as e:  # JAX found no cluster and the spec leaves something out
        raise ValueError(
            f"cannot start a multi-process run: {e} (give --coordinator HOST:PORT, --num-processes N "
            f"and --process-id I, or set {', '.join(ENV_VARS)})"
        ) from e


def process_count() -> int:
    import jax

    return jax.process_count()


def is_primary() -> bool:
    """True on process 0 (and in a single-process run)."""
    import jax

    return jax.process_index() == 0


def _client():
    from jax._src import distributed

    client = distributed.global_state.client
    if client is None:
        raise RuntimeError("jax.distributed is not initialized")
    return client


def barrier(name: str = "barrier") -> None:
    """Wait until every process reaches the same barrier (no-op with one process)."""
    if process_count() == 1:
        return
    _client().wait_at_barrier(f"jaxmeta/{name}/{next(_seq)}", TIMEOUT_S * 1000)


def agree(fn: Callable[[], Any], name: str = "agree", errors: tuple[type[BaseException], ...] = (ValueError,)) -> Any:
    """Run `fn` on process 0 and return its result (JSON-serialisable) on every process. An exception of
    one of `errors` raised by it is raised again, with its message, on every process (any other: a
    RuntimeError naming it there). With one process: ``fn()``."""
    if process_count() == 1:
        return fn()
    key = f"jaxmeta/{name}/{next(_seq)}"
    client = _client()
    if is_primary():
        mine, exc = _outcome(fn, errors)
        client.key_value_set(key, json.dumps(mine))
        if exc is not None:
            raise exc
        return mine["value"]
    got = json.loads(client.blocking_key_value_get(key, TIMEOUT_S * 1000))
    if "error" in got:
        _raise(got, errors)
    return got["value"]


def _outcome(fn: Callable[[], Any], errors: tuple[type[BaseException], ...]) -> tuple[dict, BaseException | None]:
    try:
        return {"value": fn()}, None
    except BaseException as e:  # noqa: BLE001  (re-raised by the caller)
        known = next((c.__name__ for c in errors if isinstance(e, c)), None)
        return {"error": known, "message": str(e) if known else f"{type(e).__name__}: {e}"}, e


def _raise(got: dict, errors: tuple[type[BaseException], ...], prefix: str = "") -> None:
    cls = next((c for c in errors if c.__name__ == got["error"]), None)
    if cls is None:
        raise RuntimeError(f"{prefix or 'process 0: '}{got['message']}")
    raise cls(prefix + got["message"])


def gather(
    fn: Callable[[], Any], name: str = "gather", errors: tuple[type[BaseException], ...] = (ValueError,)
) -> list:
    """Run `fn` on every process; every process gets the list of their (JSON-serialisable) results in
    process order. When it fails anywhere, the error of the lowest-numbered failing process is raised on
    every process (its own error where it failed; of one of `errors`, else a RuntimeError, elsewhere)."""
    if process_count() == 1:
        return [fn()]
    import jax

    base = f"jaxmeta/{name}/{next(_seq)}"
    client = _client()
    mine, exc = _outcome(fn, errors)
    client.key_value_set(f"{base}/{jax.process_index()}", json.dumps(mine))
    everyone = [
        json.loads(client.blocking_key_value_get(f"{base}/{i}", TIMEOUT_S * 1000)) for i in range(jax.process_count())
    ]
    for i, got in enumerate(everyone):
        if "error" in got:
            if i == jax.process_index():
                raise exc
            _raise(got, errors, prefix=f"process {i}: " if i else "")
    return [got["value"] for got in everyone]


def to_host(tree: Any) -> Any:
    """numpy copies of a pytree's leaves. Leaves whose shards live on other processes' devices are
    gathered (one `process_allgather` for all of them); replicated ones are read from a local copy."""
    import jax

    leaves, treedef = jax.tree.flatten(tree)
    remote = [
        i
        for i, x in enumerate(leaves)
        if isinstance(x, jax.Array) and not x.is_fully_addressable and not x.is_fully_replicated
    ]
    out = [
        np.asarray(x.addressable_data(0)) if isinstance(x, jax.Array) and not x.is_fully_addressable else np.asarray(x)
        for x in leaves
    ]
    if remote:
        from jax.experimental import multihost_utils

        gathered = multihost_utils.process_allgather([leaves[i] for i in remote], tiled=True)
        for i, g in zip(remote, gathered):
            out[i] = np.asarray(g)
    return jax.tree.unflatten(treedef, out)
