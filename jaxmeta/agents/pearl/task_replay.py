"""A replay buffer per task (PEARL's per-task buffers, Rakelly et al. 2019, Algorithm 1): `make_task_replay`.

Shapes: ``T`` tasks, ``K`` capacity per task, ``N`` rows added at once (one per env), ``M`` tasks in a
meta-batch, ``B`` transitions per task, ``C`` context transitions per task.

- ``init(example) -> TaskReplayState``: storage of ``example``'s leaves with a leading ``(T, K)``.
- ``add(state, task (N,) int32, rows (N, ...), valid (N,) bool)``: row n goes to task ``task[n]``'s ring.
  Rows of one task in one call take consecutive slots in row order (so `K >= N` keeps every index of
  a call distinct and the result deterministic); invalid rows are dropped.
- ``sample(state, key, M, B, C, recent) -> (task (M,), batch (M, B, ...), context (M, C, ...))``: ``M``
  tasks drawn uniformly with replacement among those holding data, ``B`` transitions uniformly from
  each, and ``C`` context transitions uniformly from each task's ``recent`` newest ones (PEARL draws its
  context from the latest data of the task, its encoder buffer). Sampling from a buffer with no data
  returns rows of task 0's (empty) storage.
"""

from __future__ import annotations

from typing import Any, Callable

import chex
import jax
import jax.numpy as jnp
from flax import struct

__all__ = ["TaskReplay", "TaskReplayState", "make_task_replay"]


@struct.dataclass
class TaskReplayState:
    storage: Any  # pytree, leaves (T, K, ...)
    ptr: jax.Array  # (T,) int32: next slot of each task's ring
    count: jax.Array  # (T,) int32: transitions held per task (<= K)


@struct.dataclass
class TaskReplay:
    init: Callable[[Any], TaskReplayState] = struct.field(pytree_node=False)
    add: Callable[..., TaskReplayState] = struct.field(pytree_node=False)
    sample: Callable[..., tuple] = struct.field(pytree_node=False)
    num_tasks: int = struct.field(pytree_node=False)
    capacity: int = struct.field(pytree_node=False)


def make_task_replay(num_tasks: int, capacity: int) -> TaskReplay:
    """`num_tasks` rings of `capacity` transitions each (module docstring)."""
    if not isinstance(num_tasks, int) or num_tasks < 1:
        raise ValueError(f"num_tasks must be a positive int, got {num_tasks!r}")
    if not isinstance(capacity, int) or capacity < 1:
        raise ValueError(f"capacity must be a positive int, got {capacity!r}")
    T, K = num_tasks, capacity

    def init(example: Any) -> TaskReplayState:
        storage = jax.tree.map(lambda x: jnp.zeros((T, K) + jnp.shape(x), jnp.asarray(x).dtype), example)
        return TaskReplayState(storage=storage, ptr=jnp.zeros((T,), jnp.int32), count=jnp.zeros((T,), jnp.int32))

    def add(state: TaskReplayState, task: jax.Array, rows: Any, valid: jax.Array) -> TaskReplayState:
        (n,) = task.shape
        chex.assert_shape(valid, (n,))
        valid = valid.astype(bool)
        same = (task[:, None] == task[None, :]) & valid[None, :]  # [i, j]: row j writes to row i's task
        rank = jnp.sum(jnp.tril(same, k=-1), axis=1).astype(jnp.int32)  # earlier valid rows of the same task
        slot = (state.ptr[task] + rank) % K
        target = jnp.where(valid, task, T)  # out of range: dropped
        storage = jax.tree.map(lambda s, x: s.at[target, slot].set(x, mode="drop"), state.storage, rows)
        added = jax.ops.segment_sum(valid.astype(jnp.int32), task, num_segments=T)
        return TaskReplayState(storage=storage, ptr=(state.ptr + added) % K, count=jnp.minimum(state.count + added, K))

    def sample(state: TaskReplayState, key: jax.Array, M: int, B: int, C: int, recent: int):
        k_task, k_batch, k_ctx = jax.random.split(key, 3)
        has = state.count > 0
        logits = jnp.where(has, 0.0, -jnp.inf)
        logits = jnp.where(jnp.any(has), logits, 0.0)
        task = jax.random.categorical(k_task, logits, shape=(M,)).astype(jnp.int32)
        count, ptr = state.count[task], state.ptr[task]  # (M,)
        # the i-th oldest held transition sits at (ptr - count + i) mod K
        u = jax.random.uniform(k_batch, (M, B))
        i = jnp.minimum((u * count[:, None]).astype(jnp.int32), jnp.maximum(count[:, None] - 1, 0))
        slots = (ptr[:, None] - count[:, None] + i) % K
        window = jnp.minimum(count, recent)
        v = jax.random.uniform(k_ctx, (M, C))
        back = 1 + jnp.minimum((v * window[:, None]).astype(jnp.int32), jnp.maximum(window[:, None] - 1, 0))
        cslots = (ptr[:, None] - back) % K  # among the `recent` newest
        gather = lambda slots_: jax.tree.map(lambda s: s[task[:, None], slots_], state.storage)  # noqa: E731
        return task, gather(slots), gather(cslots)

    return TaskReplay(init=init, add=add, sample=sample, num_tasks=T, capacity=K)
