"""On-device replay buffers as pure functions: uniform, skill-balanced and prioritized (PER).

A buffer is a frozen dataclass of pure functions over a state pytree (flashbax style)::

    buf = make_replay(capacity=1_000_000, num_skills=10, kind="prioritized")
    state = buf.init(example_transition)                      # arrays (capacity, ...) preallocated
    state = buf.add(state, transitions)                        # leading axis (E,)
    batch, info = buf.sample(state, key, 1280)                 # batch: (B, ...); info.indices/weights (B,)
    state = buf.set_priorities(state, info.indices, td_errors) # PER only, no-op otherwise

Everything is jit-able; `batch_size` is a Python int (static: ``jax.jit(buf.sample, static_argnums=2)``).
No state lives in Python, so the state can be donated (``jax.jit(buf.add, donate_argnums=0)``): do so,
otherwise XLA copies the whole item storage on every `add`.

Items are any pytree of arrays whose leading axis is the item axis; one leaf (``skill_field``, a field
name / dict key, or a callable ``items -> (E,) int``) is the integer skill id in ``[0, num_skills)``.
Ids outside that range are stored and sampled by ``uniform``/``prioritized``, but are not counted in
``skill_counts`` and never drawn by ``balanced``.

Storage is one circular buffer for all kinds: slot ``insert_pos`` is written next; after K adds the
buffer holds the last ``min(K, capacity)`` items, slots ``[0, size)`` are occupied.

Kinds (``sample`` semantics):

- ``uniform``: indices uniform over the ``size`` stored items. Weights are ones.
- ``balanced``: let K be the number of skills with at least one stored item. Sample b is given skill
  ``active[(b + o) mod K]`` for a random rotation o, so every skill with data gets ``floor(B/K)`` or
  ``ceil(B/K)`` samples (exactly ``B/K`` when K divides B, e.g. ``B/num_skills`` once all skills have
  data), skills with no data never appear, and within a skill the item is uniform over its stored items.
  ``batch_size`` need not be a multiple of ``num_skills``. Weights are ones.
- ``prioritized``: stratified sampling (Schaul et al. 2016): B equal strata of the total mass, one
  draw in each, ``P(i) = p_i^alpha / sum_k p_k^alpha``. Weights ``w_i = (N P(i))^-beta / max_batch w``
  with N = ``size``; ``beta`` is annealed linearly from ``beta_start`` to ``beta_end`` over
  ``beta_steps`` calls of ``set_priorities`` (``state.step`` counts them; sampling does not advance it).
  ``set_priorities`` sets ``p_i = |td_i| + eps``; when an index repeats in one call the LAST occurrence
  wins (as if applied one after another); indices of unoccupied slots are ignored; non-finite TD errors
  are replaced by the current max priority. New items get ``max_priority`` = the largest priority ever
  set (initially 1.0).

Float32 sum tree without drift (cf. flashbax issue #52): `jaxmeta.sumtree` (its docstring has the
argument); IS weights are computed as ``(leaf_i / min_batch leaf)^-beta``, which equals the normalised
formula above without forming ``N P(i)``. Stored items always have a leaf >= the smallest normal float32,
so empty slots (leaf 0) can never be drawn and stored ones always can.

Balanced sampling uses the same heap idea on integer counts: slots are grouped in blocks of 64; a heap
over blocks stores per-skill item counts (``(2 Pb, num_skills)`` int32, 6.5 MB for 1e6 slots x 50 skills).
A draw picks rank r uniform in ``[0, count_t)``, descends the heap by the counts of skill t to a block,
and takes the r-th slot of skill t inside the block: O(log(capacity/64) + 64) per sample.

Why `add` and `set_priorities` are written as they are (in-place updates, one-key sorts): docs/replay.md.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Mapping
from typing import Any, Callable, Union

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from jaxmeta.sumtree import (  # noqa: F401  (re-exported: their old home)
    _descend,
    _sort_last_wins,
    sumtree_build,
    sumtree_descend,
    sumtree_refresh,
    sumtree_set,
    tree_depth,
)

__all__ = [
    "KINDS",
    "ReplayBuffer",
    "ReplayState",
    "SampleInfo",
    "make_replay",
    "sumtree_build",
    "sumtree_descend",
    "sumtree_refresh",
    "sumtree_set",
    "tree_depth",
]

KINDS = ("uniform", "balanced", "prioritized")
BLOCK = 64  # slots per leaf of the balanced-sampling count heap
MAX_CAPACITY = 1 << 30  # heap indices (2P) must fit int32
_TINY = float(np.finfo(np.float32).tiny)  # smallest normal float32: floor of a stored item's leaf


# ----------------------------------------------------------------------------------------- state types
@struct.dataclass
class ReplayState:
    """Buffer state (a pytree; donate it). C = capacity, T = num_skills.

    items:         the item pytree, every leaf (C, ...).
    skill_ids:     (C,) int32 skill id of each slot, -1 for never-written slots.
    skill_counts:  (T,) int32 number of stored items per skill.
    size:          () int32 number of stored items (occupied slots are [0, size)).
    insert_pos:    () int32 slot written next.
    step:          () int32 number of `set_priorities` calls (drives the PER beta schedule).
    max_priority:  () f32 largest priority ever set (initial 1.0); new PER items get it.
    priority_tree: (2P,) f32 heap of p^alpha (prioritized only, else None).
    count_tree:    (2Pb, T) int32 heap of per-skill counts over 64-slot blocks (balanced only, else None).
    """

    items: Any
    skill_ids: jax.Array
    skill_counts: jax.Array
    size: jax.Array
    insert_pos: jax.Array
    step: jax.Array
    max_priority: jax.Array
    priority_tree: Union[jax.Array, None] = None
    count_tree: Union[jax.Array, None] = None


@struct.dataclass
class SampleInfo:
    """indices: (B,) int32 slots; weights: (B,) f32 IS weights (ones unless prioritized);
    probs: (B,) f32 probability with which each slot is drawn by one draw (diagnostics)."""

    indices: jax.Array
    weights: jax.Array
    probs: jax.Array


@dataclasses.dataclass(frozen=True)
class ReplayBuffer:
    """Pure functions of a `ReplayState` (see module docstring). Build with `make_replay`.

    init(example_item) -> state
    add(state, items, valid=None) -> state             items: leading axis (E,); valid: None, () bool
        (False leaves the state as it was, bitwise, in place: for programs that add only sometimes) or
        (E,) bool (only the valid items are added, in their order, as if the others were not there)
    sample(state, key, batch_size) -> (items (B, ...), SampleInfo)
    set_priorities(state, indices (B,), td_errors (B,)) -> state   (no-op unless prioritized)
    can_sample(state, batch_size) -> () bool
    beta(state) -> () f32 current IS exponent (prioritized schedule; defined for every kind)
    sample_in_skills(state, key, skill_ids (B,)) -> (items, SampleInfo)   (balanced only: one item of
        each given skill, uniform within the skill; TaCo's skill-weighted batches)
    """

    init: Callable[[Any], ReplayState]
    add: Callable[..., ReplayState]
    sample: Callable[[ReplayState, jax.Array, int], tuple[Any, SampleInfo]]
    set_priorities: Callable[[ReplayState, jax.Array, jax.Array], ReplayState]
    can_sample: Callable[[ReplayState, Any], jax.Array]
    beta: Callable[[ReplayState], jax.Array]
    capacity: int
    num_skills: int
    kind: str
    sample_in_skills: Callable[[ReplayState, jax.Array, jax.Array], tuple[Any, SampleInfo]] | None = None


# ------------------------------------------------------------------------------------------ validation
def _int_arg(name: str, value: Any, minimum: int, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an int, got {value!r}")
    value = int(value)
    if value < minimum or (maximum is not None and value > maximum):
        hi = "" if maximum is None else f" and <= {maximum}"
        raise ValueError(f"{name} must be >= {minimum}{hi}, got {value!r}")
    return value


def _float_arg(name: str, value: Any, lo: float, hi: float, lo_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    v = float(value)
    ok = math.isfinite(v) and (v > lo if lo_open else v >= lo) and v <= hi
    if not ok:
        left = "(" if lo_open else "["
        raise ValueError(f"{name} must be in {left}{lo}, {hi}], got {value!r}")
    return v


def _batch_size_arg(batch_size: Any) -> int:
    if isinstance(batch_size, (jax.Array, np.ndarray)) and batch_size.ndim == 0:
        try:
            batch_size = int(batch_size)
        except Exception:
            raise ValueError(
                "batch_size must be a static Python int (jit with static_argnums=2), got a traced value"
            ) from None
    return _int_arg("batch_size", batch_size, 1)


# ------------------------------------------------------------------------------------------------ make
def make_replay(
    capacity: int,
    num_skills: int,
    kind: str = "uniform",
    *,
    alpha: float = 0.6,
    beta_start: float = 0.4,
    beta_end: float = 1.0,
    beta_steps: int = 1_000_000,
    eps: float = 1e-6,
    skill_field: Union[str, Callable[[Any], Any]] = "skill_id",
) -> ReplayBuffer:
    """Make a replay buffer (see module docstring for semantics).

    Args:
      capacity: number of item slots, 1 <= capacity <= 2**30.
      num_skills: number of skill ids (>= 1); ids live in [0, num_skills).
      kind: "uniform", "balanced" or "prioritized".
      alpha: PER exponent in [0, 1] (0 = uniform over stored items).
      beta_start, beta_end: IS exponent schedule endpoints, in [0, 1].
      beta_steps: number of `set_priorities` calls over which beta goes linearly start -> end (>= 1).
      eps: > 0, added to |td| so no stored item has priority 0.
      skill_field: attribute / key name of the int skill id in an item, or a callable items -> ids.
    Raises:
      ValueError naming the offending value, before anything is traced or compiled.
    """
    capacity = _int_arg("capacity", capacity, 1, MAX_CAPACITY)
    num_skills = _int_arg("num_skills", num_skills, 1)
    if not isinstance(kind, str) or kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    alpha = _float_arg("alpha", alpha, 0.0, 1.0)
    beta_start = _float_arg("beta_start", beta_start, 0.0, 1.0)
    beta_end = _float_arg("beta_end", beta_end, 0.0, 1.0)
    beta_steps = _int_arg("beta_steps", beta_steps, 1)
    eps = _float_arg("eps", eps, 0.0, 1e30, lo_open=True)
    if isinstance(skill_field, str):
        if not skill_field:
            raise ValueError(f"skill_field must be a non-empty name or a callable, got {skill_field!r}")
    elif not callable(skill_field):
        raise ValueError(f"skill_field must be a field name or a callable, got {skill_field!r}")

    C, T = capacity, num_skills
    per = kind == "prioritized"
    bal = kind == "balanced"
    depth = tree_depth(C)  # priority heap: P = 2**depth leaves
    P = 1 << depth
    block = min(BLOCK, C)  # count heap: one leaf per block of slots
    num_blocks = -(-C // block)
    cdepth = tree_depth(num_blocks)
    Pb = 1 << cdepth

    def skill_ids_of(items: Any) -> Any:
        if callable(skill_field):
            return skill_field(items)
        if isinstance(items, Mapping):
            if skill_field not in items:
                raise ValueError(f"item has no skill field {skill_field!r}; keys: {sorted(items)}")
            return items[skill_field]
        if not hasattr(items, skill_field):
            raise ValueError(f"item of type {type(items).__name__} has no skill field {skill_field!r}")
        return getattr(items, skill_field)

    def beta_of(step: jax.Array) -> jax.Array:
        frac = jnp.minimum(step.astype(jnp.float32) / beta_steps, 1.0)
        return jnp.float32(beta_start) + jnp.float32(beta_end - beta_start) * frac

    # -------------------------------------------------------------------------------------- init
    def init(example_item: Any) -> ReplayState:
        """State with every leaf preallocated as zeros (capacity, *leaf.shape) of the item's dtype."""
        leaves = jax.tree.leaves(example_item)
        if not leaves:
            raise ValueError(f"example_item has no array leaves: {example_item!r}")
        tid = skill_ids_of(example_item)
        if np.shape(tid) != () or not jnp.issubdtype(jnp.result_type(tid), jnp.integer):
            raise ValueError(
                f"skill id of example_item must be an integer scalar, got shape {np.shape(tid)} "
                f"dtype {jnp.result_type(tid)}"
            )

        def alloc(x):
            x = x if hasattr(x, "shape") and hasattr(x, "dtype") else jnp.asarray(x)
            return jnp.zeros((C,) + tuple(x.shape), x.dtype)

        return ReplayState(
            items=jax.tree.map(alloc, example_item),
            skill_ids=jnp.full((C,), -1, jnp.int32),
            skill_counts=jnp.zeros((T,), jnp.int32),
            size=jnp.zeros((), jnp.int32),
            insert_pos=jnp.zeros((), jnp.int32),
            step=jnp.zeros((), jnp.int32),
            max_priority=jnp.ones((), jnp.float32),
            priority_tree=jnp.zeros((2 * P,), jnp.float32) if per else None,
            count_tree=jnp.zeros((2 * Pb, T), jnp.int32) if bal else None,
        )

    # --------------------------------------------------------------------------------------- add
    def add(state: ReplayState, items: Any, valid: Any = None) -> ReplayState:
        """Append items (leading axis E) at insert_pos, overwriting the oldest when full.

        If E > capacity only the last `capacity` items are kept (as if added one by one). valid: None or a
        () bool; where False nothing changes (the writes go out of bounds and are dropped, counters do not
        move), with no copy of the storage, unlike a `lax.cond` around `add`. Or an (E,) bool (E <=
        capacity): the result is bitwise that of adding just the valid items (a stable partition moves
        them first, then only the first ``sum(valid)`` writes land); all True equals ``valid=None``."""
        if jax.tree.structure(items) != jax.tree.structure(state.items):
            raise ValueError(
                f"items structure {jax.tree.structure(items)} != buffer structure {jax.tree.structure(state.items)}"
            )
        shapes = [tuple(np.shape(x)) for x in jax.tree.leaves(items)]
        want = [buf.shape[1:] for buf in jax.tree.leaves(state.items)]
        leading = {s[0] if s else None for s in shapes}
        if len(leading) != 1 or None in leading or any(s[1:] != w for s, w in zip(shapes, want)):
            raise ValueError(
                f"item leaves must have shapes (E, *item_shape) with one E; got {shapes}, item shapes {want}"
            )
        E = leading.pop()
        if E < 1:
            raise ValueError(f"items must have a non-empty leading batch axis, got E={E}")
        tids = jnp.asarray(skill_ids_of(items)).astype(jnp.int32)
        if tids.shape != (E,):
            raise ValueError(f"skill ids of items must have shape ({E},), got {tids.shape}")
        tids = jnp.maximum(tids, jnp.iinfo(jnp.int32).min + 1)  # INT32_MIN is reserved (see below)

        on = jnp.ones((), bool) if valid is None else jnp.asarray(valid, bool)
        if on.shape not in ((), (E,)):
            raise ValueError(f"valid must be a () or ({E},) bool, got shape {on.shape}")
        if on.shape == (E,):
            if E > C:
                raise ValueError(f"a per-item valid needs at most capacity={C} items, got E={E}")
            order = jnp.argsort(jnp.logical_not(on), stable=True)  # valid items first, in their order
            items = jax.tree.map(lambda x: jnp.asarray(x)[order], items)
            tids = tids[order]
            n_added = jnp.sum(on, dtype=jnp.int32)
            on = jnp.arange(E, dtype=jnp.int32) < n_added  # (E,): which of the E writes land
        else:
            n_added = jnp.where(on, E, 0)
        skip = max(E - C, 0)
        n = E - skip
        if skip:
            items = jax.tree.map(lambda x: x[skip:], items)
            tids = tids[skip:]
        slots = (state.insert_pos + skip + jnp.arange(n, dtype=jnp.int32)) % C
        write = jnp.where(on, slots, slots + C)  # out of bounds (distinct) where not valid: dropped
        new_items = jax.tree.map(
            lambda buf, x: buf.at[write].set(jnp.asarray(x).astype(buf.dtype), unique_indices=True, mode="drop"),
            state.items,
            items,
        )
        old = state.skill_ids[slots]
        old_col = jnp.where((old >= 0) & (old < T) & on, old, T)  # T = out of range -> dropped
        new_col = jnp.where((tids >= 0) & (tids < T) & on, tids, T)
        counts = state.skill_counts.at[old_col].add(-1, mode="drop").at[new_col].add(1, mode="drop")
        # The written ids depend (trivially: no stored id is INT32_MIN) on the evicted ids read above, so
        # XLA orders read before write and scatters in place; without it, it copies skill_ids (2 x 4 MB
        # per add at capacity 1e6) because nothing else orders the count update before the write.
        written = jnp.where(old == jnp.iinfo(jnp.int32).min, old, tids)
        skill_ids = state.skill_ids.at[write].set(written, unique_indices=True, mode="drop")

        priority_tree, count_tree = state.priority_tree, state.count_tree
        if per:
            leaf = jnp.maximum(state.max_priority ** jnp.float32(alpha), jnp.float32(_TINY))
            pos = P + slots
            # not valid: the leaves are written back as they are, so the refresh below recomputes the same sums
            leaves = jnp.where(on, jnp.broadcast_to(leaf, (n,)), priority_tree[pos])
            priority_tree = priority_tree.at[pos].set(leaves, unique_indices=True)
            if n * depth > P:  # rebuild (O(P)) when cheaper than refresh; bit-identical either way
                priority_tree = sumtree_build(priority_tree[P:], depth)
            else:
                priority_tree = sumtree_refresh(priority_tree, pos, depth)
        if bal:
            rows = Pb + slots // block
            if n * cdepth * T > C + 2 * Pb * T:  # rebuild (O(C + Pb T)) when cheaper than refresh
                leaves_ct = (
                    jnp.zeros((Pb, T), jnp.int32)
                    .at[
                        jnp.arange(C, dtype=jnp.int32) // block,
                        jnp.where((skill_ids >= 0) & (skill_ids < T), skill_ids, T),
                    ]
                    .add(1, mode="drop")
                )
                count_tree = sumtree_build(leaves_ct, cdepth)
            else:
                count_tree = count_tree.at[rows, old_col].add(-1, mode="drop")
                count_tree = count_tree.at[rows, new_col].add(1, mode="drop")
                count_tree = sumtree_refresh(count_tree, rows, cdepth)

        return state.replace(
            items=new_items,
            skill_ids=skill_ids,
            skill_counts=counts,
            size=jnp.minimum(state.size + n_added, C).astype(jnp.int32),
            insert_pos=((state.insert_pos + n_added) % C).astype(jnp.int32),
            priority_tree=priority_tree,
            count_tree=count_tree,
        )

    # ------------------------------------------------------------------------------------ sample
    def _sample_uniform(state, key, B):
        size = jnp.maximum(state.size, 1)
        idx = jax.random.randint(key, (B,), 0, size, dtype=jnp.int32)
        ones = jnp.ones((B,), jnp.float32)
        return idx, ones, ones / size.astype(jnp.float32)

    def _sample_prioritized(state, key, B):
        nodes = state.priority_tree
        total = nodes[1]
        u = (jnp.arange(B, dtype=jnp.float32) + jax.random.uniform(key, (B,), jnp.float32)) * (total / B)
        idx, leaf = _descend(nodes, u, depth)
        # Everything below uses only the descent's outputs, not the tree: a set_priorities in the same
        # jit can then update the tree in place (no 8 MB copies at capacity 1e6).
        ok = leaf > 0  # false only for an empty buffer (the descent then ends on the last leaf)
        idx = jnp.minimum(idx, C - 1)
        beta = beta_of(state.step)
        lmin = jnp.min(jnp.where(ok, leaf, jnp.inf))
        weights = jnp.where(ok, (leaf / lmin) ** (-beta), 1.0).astype(jnp.float32)
        probs = jnp.where(ok, leaf / total, 0.0).astype(jnp.float32)
        return idx, weights, probs

    def _sample_balanced(state, key, B):
        counts = state.skill_counts
        has = counts > 0
        K = jnp.maximum(jnp.sum(has.astype(jnp.int32)), 1)
        active = jnp.flatnonzero(has, size=T, fill_value=0).astype(jnp.int32)
        k_rot, k_rank = jax.random.split(key)
        offset = jax.random.randint(k_rot, (), 0, K, dtype=jnp.int32)
        t = active[(jnp.arange(B, dtype=jnp.int32) + offset) % K]
        idx, cnt = _draw_in_skills(state, k_rank, t)
        ones = jnp.ones((B,), jnp.float32)
        probs = 1.0 / (K.astype(jnp.float32) * jnp.maximum(cnt, 1).astype(jnp.float32))
        return idx, ones, probs

    def _draw_in_skills(state, key, t):
        """Slot (B,) uniform over the stored items of skill ``t[b]`` (balanced kind: count heap), and the
        skill's item count (B,). A skill with no stored item gets slot 0."""
        B = t.shape[0]
        cnt = state.skill_counts[t]
        r = jax.random.randint(key, (B,), 0, jnp.maximum(cnt, 1), dtype=jnp.int32)
        ct = state.count_tree

        def level(_, carry):  # descend the count heap of skill t to the block holding rank r
            k, r = carry
            left = ct[2 * k, t]
            go_right = r >= left
            return 2 * k + go_right.astype(jnp.int32), r - jnp.where(go_right, left, 0)

        k, r = jax.lax.fori_loop(0, cdepth, level, (jnp.ones((B,), jnp.int32), r))
        first = (k - Pb) * block
        slots = first[:, None] + jnp.arange(block, dtype=jnp.int32)
        match = jnp.take(state.skill_ids, slots, mode="fill", fill_value=-1) == t[:, None]
        pos = jnp.argmax(jnp.cumsum(match.astype(jnp.int32), axis=1) > r[:, None], axis=1)
        idx = jnp.where(cnt > 0, first + pos.astype(jnp.int32), 0)
        return idx, cnt

    _samplers = {"uniform": _sample_uniform, "prioritized": _sample_prioritized, "balanced": _sample_balanced}

    def sample(state: ReplayState, key: jax.Array, batch_size: int) -> tuple[Any, SampleInfo]:
        """Draw batch_size items (see module docstring). Returns (items with leading axis B,
        SampleInfo). An empty buffer returns unspecified in-range slots with weight 1: check
        `can_sample` first."""
        B = _batch_size_arg(batch_size)
        idx, weights, probs = _samplers[kind](state, key, B)
        idx = idx.astype(jnp.int32)
        batch = jax.tree.map(lambda x: x[idx], state.items)
        return batch, SampleInfo(indices=idx, weights=weights, probs=probs)

    def sample_in_skills(state: ReplayState, key: jax.Array, skill_ids: jax.Array) -> tuple[Any, SampleInfo]:
        """Draw one item of each given skill, ``skill_ids (B,) int32``: uniform over that skill's stored
        items (balanced kind only; the caller chooses the batch composition, e.g. TaCo's skill
        probabilities). A skill with no stored item yields an unspecified slot: give only skills with
        ``skill_counts > 0``. ``SampleInfo.probs`` is ``1 / count`` (within-skill), weights are ones."""
        if not bal:
            raise ValueError(f"sample_in_skills needs a 'balanced' buffer (per-skill count heap), this one is {kind!r}")
        t = jnp.asarray(skill_ids).astype(jnp.int32).reshape(-1)
        idx, cnt = _draw_in_skills(state, key, jnp.clip(t, 0, T - 1))
        batch = jax.tree.map(lambda x: x[idx], state.items)
        ones = jnp.ones(t.shape, jnp.float32)
        return batch, SampleInfo(indices=idx, weights=ones, probs=1.0 / jnp.maximum(cnt, 1).astype(jnp.float32))

    # ---------------------------------------------------------------------------- set_priorities
    def set_priorities(state: ReplayState, indices: jax.Array, td_errors: jax.Array) -> ReplayState:
        """p = |td| + eps for each (index, td) pair (B,); last occurrence of a repeated index wins;
        indices outside [0, size) are ignored; advances state.step by one. No-op unless prioritized."""
        if not per:
            return state
        idx = jnp.asarray(indices).astype(jnp.int32).reshape(-1)
        td = jnp.asarray(td_errors).astype(jnp.float32).reshape(-1)
        if idx.shape != td.shape:
            raise ValueError(f"indices {idx.shape} and td_errors {td.shape} must have the same length")
        sidx, spos, last = _sort_last_wins(idx, C)  # sorted order also helps memory locality
        p = jnp.abs(td[spos]) + jnp.float32(eps)
        p = jnp.where(jnp.isfinite(p), p, state.max_priority)
        keep = last & (sidx < state.size)
        leaf = jnp.maximum(p ** jnp.float32(alpha), jnp.float32(_TINY))
        nodes = state.priority_tree
        pos = jnp.where(keep, P + sidx, 2 * P)  # 2P is out of bounds: dropped
        nodes = nodes.at[pos].set(leaf, mode="drop")
        # Refreshing ancestors of ignored entries (mapped to leaf 0) rewrites unchanged values: harmless.
        nodes = sumtree_refresh(nodes, jnp.where(keep, P + sidx, P), depth)
        max_p = jnp.maximum(state.max_priority, jnp.max(jnp.where(keep, p, 0.0)))
        return state.replace(priority_tree=nodes, max_priority=max_p, step=state.step + 1)

    def can_sample(state: ReplayState, batch_size: Any) -> jax.Array:
        """() bool: at least max(batch_size, 1) stored items (and, for balanced, one counted skill)."""
        ok = state.size >= jnp.maximum(jnp.asarray(batch_size, jnp.int32), 1)
        if bal:
            ok = ok & (jnp.sum(state.skill_counts) > 0)
        return ok

    def beta(state: ReplayState) -> jax.Array:
        """Current IS exponent beta(state.step)."""
        return beta_of(state.step)

    return ReplayBuffer(
        init=init,
        add=add,
        sample=sample,
        set_priorities=set_priorities,
        can_sample=can_sample,
        beta=beta,
        capacity=C,
        num_skills=T,
        kind=kind,
        sample_in_skills=sample_in_skills,
    )
