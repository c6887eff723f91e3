"""Replay buffers: wrap-around, skill balance, PER statistics, drift-free float32 sum tree, jit parity."""

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import struct
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

from jaxmeta import replay
from jaxmeta.replay import make_replay, sumtree_build, sumtree_descend, sumtree_set, tree_depth

F32_EPS = float(np.finfo(np.float32).eps)


@struct.dataclass
class Tr:
    """Same layout as jaxmeta.sac.Transition (small O, A)."""

    obs: jax.Array  # (3,)
    action: jax.Array  # (2,)
    reward: jax.Array  # ()
    next_obs: jax.Array  # (3,)
    discount: jax.Array  # ()
    skill_id: jax.Array  # () int32


def example():
    return Tr(
        obs=jnp.zeros(3),
        action=jnp.zeros(2),
        reward=jnp.zeros(()),
        next_obs=jnp.zeros(3),
        discount=jnp.ones(()),
        skill_id=jnp.zeros((), jnp.int32),
    )


def batch(serial, skills):
    """Items numbered `serial` (E,) (exact in float32) with skill ids `skills` (E,)."""
    s = jnp.asarray(serial, jnp.float32)
    return Tr(
        obs=jnp.repeat(s[:, None], 3, 1),
        action=jnp.stack([s, -s], 1),
        reward=s,
        next_obs=jnp.repeat(s[:, None], 3, 1) + 0.5,
        discount=jnp.ones_like(s),
        skill_id=jnp.asarray(skills, jnp.int32),
    )


@functools.lru_cache(maxsize=None)
def compiled(capacity, num_skills, kind, **kw):
    """(buffer, jitted add, jitted sample, jitted set_priorities), cached so compiles are shared."""
    buf = make_replay(capacity, num_skills, kind, **kw)
    return buf, jax.jit(buf.add), jax.jit(buf.sample, static_argnums=2), jax.jit(buf.set_priorities)


def filled(capacity, num_skills, kind, skills, **kw):
    buf, add, sample, setp = compiled(capacity, num_skills, kind, **kw)
    state = add(buf.init(example()), batch(np.arange(len(skills)), skills))
    return buf, state, add, sample, setp


def heap_consistent(nodes, depth):
    """Every internal node is exactly (bitwise) the float32/int sum of its two children."""
    nodes = np.asarray(nodes)
    P = 1 << depth
    return np.array_equal(nodes[1:P], nodes[2 : 2 * P : 2] + nodes[3 : 2 * P : 2])


# ----------------------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "kwargs, bad",
    [
        (dict(capacity=0), "0"),
        (dict(capacity=2.5), "2.5"),
        (dict(capacity=True), "True"),
        (dict(capacity=(1 << 30) + 1), str((1 << 30) + 1)),
        (dict(num_skills=0), "0"),
        (dict(kind="greedy"), "greedy"),
        (dict(alpha=-0.1), "-0.1"),
        (dict(alpha=float("nan")), "nan"),
        (dict(beta_start=1.5), "1.5"),
        (dict(beta_end=-1), "-1"),
        (dict(beta_steps=0), "0"),
        (dict(eps=0.0), "0.0"),
        (dict(skill_field=3), "3"),
    ],
)
def test_make_replay_rejects_bad_args(kwargs, bad):
    args = dict(capacity=8, num_skills=2, kind="prioritized") | kwargs
    with pytest.raises(ValueError, match=bad.replace(".", r"\.").replace("+", r"\+")):
        make_replay(**args)


def test_shape_errors_and_batch_size():
    buf = make_replay(8, 2, "uniform")
    state = buf.init(example())
    with pytest.raises(ValueError, match="no skill field 'skill'"):
        make_replay(8, 2, skill_field="skill").init(example())
    with pytest.raises(ValueError, match=r"\(4, 3\)"):
        buf.add(state, batch(range(5), [0] * 5).replace(obs=jnp.zeros((4, 3))))
    with pytest.raises(ValueError, match="batch_size"):
        buf.sample(state, jax.random.key(0), 0)


def test_init_preallocates_and_generic_items():
    buf = make_replay(6, 3, "balanced")
    state = buf.init(example())
    assert state.items.obs.shape == (6, 3) and state.items.skill_id.dtype == jnp.int32
    assert state.items.reward.shape == (6,) and state.skill_ids.tolist() == [-1] * 6
    # Any pytree works; the skill id may come from a callable.
    buf2 = make_replay(4, 2, "prioritized", skill_field=lambda it: it[1]["t"])
    s2 = buf2.init((jnp.zeros((2, 2), jnp.bfloat16), {"t": jnp.int32(0)}))
    s2 = jax.jit(buf2.add)(s2, (jnp.ones((3, 2, 2)), {"t": jnp.array([1, 1, 0], jnp.int32)}))
    assert s2.items[0].dtype == jnp.bfloat16 and s2.skill_counts.tolist() == [1, 2]
    items, info = jax.jit(buf2.sample, static_argnums=2)(s2, jax.random.key(1), 5)
    assert items[0].shape == (5, 2, 2) and info.indices.dtype == jnp.int32
    assert info.weights.dtype == jnp.float32


# ------------------------------------------------------------------------------------- wrap-around
# (kind, capacity, add batch sizes): few distinct shapes keep compiles (~1 s each on this CPU) bounded;
# the sequence of add sizes and the skill ids are free. E > capacity and E not dividing capacity occur.
# Small adds take the incremental heap-refresh path, large ones the full rebuild; both are exercised.
WRAP_CASES = [("uniform", 1, (3,)), ("prioritized", 13, (1, 20)), ("balanced", 130, (1, 37))]


@given(case=st.sampled_from(WRAP_CASES), data=st.data())
def test_wraparound_keeps_last_capacity_items(case, data):
    kind, capacity, sizes = case
    adds = data.draw(st.lists(st.sampled_from(sizes), min_size=1, max_size=9))
    T = 3
    buf, add, sample, _ = compiled(capacity, T, kind)
    state = buf.init(example())
    skills_all, n = [], 0
    for E in adds:
        skills = data.draw(st.lists(st.integers(0, T - 1), min_size=E, max_size=E))
        state = add(state, batch(np.arange(n, n + E), skills))
        skills_all += skills
        n += E
    size = min(n, capacity)
    assert int(state.size) == size and int(state.insert_pos) == n % capacity
    serial = np.full(capacity, -1.0)
    tids = np.full(capacity, -1)
    for j in range(n - size, n):  # item j lives in slot j % capacity
        serial[j % capacity], tids[j % capacity] = j, skills_all[j]
    occ = slice(0, size)
    np.testing.assert_array_equal(np.asarray(state.items.reward)[occ], serial[occ])
    np.testing.assert_array_equal(np.asarray(state.items.obs)[occ, 2], serial[occ])
    np.testing.assert_array_equal(np.asarray(state.items.skill_id)[occ], tids[occ])
    np.testing.assert_array_equal(np.asarray(state.skill_ids), tids)
    np.testing.assert_array_equal(np.asarray(state.skill_counts), np.bincount(tids[occ], minlength=T))
    if kind == "prioritized":  # all stored at the initial max priority 1, empties 0
        d = tree_depth(capacity)
        leaves = np.asarray(state.priority_tree)[1 << d :][:capacity]
        np.testing.assert_array_equal(leaves, (np.arange(capacity) < size).astype(np.float32))
        np.testing.assert_array_equal(state.priority_tree, sumtree_build(jnp.asarray(leaves), d))
    if kind == "balanced":
        ct = np.asarray(state.count_tree)
        assert heap_consistent(ct, tree_depth(-(-capacity // min(64, capacity))))
        np.testing.assert_array_equal(ct[1], state.skill_counts)
    # Sampling only ever returns stored items.
    items, info = sample(state, jax.random.key(n), 16)
    idx = np.asarray(info.indices)
    assert ((0 <= idx) & (idx < size)).all()
    np.testing.assert_array_equal(np.asarray(items.reward), serial[idx])


def test_add_larger_than_capacity_in_one_call():
    buf, add, _, _ = compiled(5, 3, "prioritized")
    state = add(add(buf.init(example()), batch([100, 101], [0, 0])), batch(np.arange(12), [1] * 12))
    # 14 items so far; slots hold items 9..13 of the stream = serials 7..11 of the second call
    assert np.asarray(state.items.reward).tolist() == [8, 9, 10, 11, 7]
    assert int(state.insert_pos) == 14 % 5 and state.skill_counts.tolist() == [0, 5, 0]


# ----------------------------------------------------------------------------------------- balanced
def test_balanced_equal_counts_and_only_skills_with_data():
    T = 5
    skills = [0] + [2] * 50 + [3] * 7  # skills 1 and 4 have no data
    buf, state, add, sample, _ = filled(64, T, "balanced", skills)
    for B, lo, hi in [(30, 10, 10), (31, 10, 11)]:
        for s in range(5):
            items, info = sample(state, jax.random.key(s), B)
            tid = np.asarray(items.skill_id)
            np.testing.assert_array_equal(tid, np.asarray(state.skill_ids)[np.asarray(info.indices)])
            c = np.bincount(tid, minlength=T)
            assert c[1] == 0 and c[4] == 0 and lo <= c[[0, 2, 3]].min() and c[[0, 2, 3]].max() <= hi
            assert c.sum() == B
    # Evicting every item of skill 0 (slot 0) removes it from the rotation.
    state = add(state, batch(np.arange(100, 107), [4] * 7))  # fills 58..63 and wraps onto slot 0
    assert state.skill_counts.tolist() == [0, 0, 50, 7, 7]
    items, _ = sample(state, jax.random.key(9), 30)
    assert np.bincount(np.asarray(items.skill_id), minlength=T).tolist() == [0, 0, 10, 10, 10]


def test_balanced_uniform_within_skill():
    # 300 slots -> 5 blocks of 64 -> the count heap has 3 levels; skill 1 spread over all blocks.
    rng = np.random.default_rng(0)
    skills = rng.integers(0, 3, 300).tolist()
    buf, state, *_ = filled(300, 3, "balanced", skills)
    sample = jax.jit(lambda s, k: jax.vmap(lambda kk: buf.sample(s, kk, 60)[1].indices)(jax.random.split(k, 500)))
    idx = np.asarray(sample(state, jax.random.key(0))).ravel()
    tids = np.asarray(skills)
    for t in range(3):
        mine = np.flatnonzero(tids == t)
        counts = np.bincount(idx, minlength=300)[mine]
        assert counts.sum() == 500 * 20 and np.isin(idx[tids[idx] == t], mine).all()
        assert stats.chisquare(counts).pvalue > 1e-3


@given(capacity=st.sampled_from([7, 200]), num_adds=st.integers(1, 8), data=st.data())
def test_balanced_property(capacity, num_adds, data):
    T, E, B = 4, 37, 9
    skills = data.draw(st.lists(st.integers(0, T - 1), min_size=E * num_adds, max_size=E * num_adds))
    buf, add, sample, _ = compiled(capacity, T, "balanced")
    state = buf.init(example())
    for i in range(0, len(skills), E):
        state = add(state, batch(np.arange(i, i + E), skills[i : i + E]))
    stored = np.asarray(state.skill_ids)[: int(state.size)]
    counts = np.bincount(stored, minlength=T)
    np.testing.assert_array_equal(state.skill_counts, counts)
    ct = np.asarray(state.count_tree)
    assert heap_consistent(ct, tree_depth(-(-capacity // min(64, capacity))))
    items, info = sample(state, jax.random.key(len(skills)), B)
    idx = np.asarray(info.indices)
    assert (idx < int(state.size)).all()
    c = np.bincount(np.asarray(items.skill_id), minlength=T)
    active = counts > 0
    assert (c[~active] == 0).all() and c[active].max() - c[active].min() <= 1


# ----------------------------------------------------------------------------------------------- PER
def test_per_frequencies_proportional_to_p_alpha():
    C, N, alpha = 37, 30, 0.6  # capacity not a power of two, 7 empty slots
    buf, state, _, _, setp = filled(C, 2, "prioritized", [0, 1] * 15, alpha=alpha)
    p = np.linspace(0.05, 3.0, N).astype(np.float32)[np.random.default_rng(1).permutation(N)]
    state = setp(state, jnp.arange(N), jnp.asarray(p))  # eps=1e-6 added inside
    draws = jax.jit(lambda s, k: jax.vmap(lambda kk: buf.sample(s, kk, 1280)[1].indices)(jax.random.split(k, 200)))
    idx = np.asarray(draws(state, jax.random.key(0))).ravel()
    counts = np.bincount(idx, minlength=C)
    assert counts[N:].sum() == 0
    q = (p.astype(np.float64) + 1e-6) ** alpha
    q /= q.sum()
    # Stratified draws vary less than multinomial ones, so the chi-square test is conservative here
    # (p ~ 1 for seeds 0-5); the total-variation bound is the sharp check (observed ~4e-4 for seeds 0-5;
    # sampling by p instead of p^alpha would give 0.08).
    assert stats.chisquare(counts[:N], q * idx.size).pvalue > 1e-3
    assert 0.5 * np.abs(counts[:N] / idx.size - q).sum() < 0.003


def test_per_importance_weights_and_beta_annealing():
    C, alpha = 50, 0.7
    kw = dict(alpha=alpha, beta_start=0.4, beta_end=1.0, beta_steps=10)
    buf, state, add, sample, setp = filled(C, 1, "prioritized", [0] * 40, **kw)
    rng = np.random.default_rng(2)
    for step in range(1, 16):
        td = rng.normal(size=40).astype(np.float32) * 10 ** rng.uniform(-3, 2, 40).astype(np.float32)
        state = setp(state, jnp.arange(40), jnp.asarray(td))
        beta = 0.4 + 0.6 * min(step / 10, 1.0)
        assert int(state.step) == step and float(buf.beta(state)) == pytest.approx(beta, rel=1e-6)
        _, info = sample(state, jax.random.key(step), 64)
        leaves = np.asarray(state.priority_tree)[64:][:C].astype(np.float64)
        np.testing.assert_allclose(leaves[:40], (np.abs(td.astype(np.float64)) + 1e-6) ** alpha, rtol=1e-5)
        P = leaves[np.asarray(info.indices)] / leaves.sum()
        w = (40 * P) ** (-beta)
        np.testing.assert_allclose(info.weights, w / w.max(), rtol=1e-5)
        np.testing.assert_allclose(info.probs, P, rtol=1e-5)
    assert float(buf.beta(state)) == 1.0


def test_set_priorities_repeated_indices_last_wins():
    buf, state, _, _, setp = filled(10, 1, "prioritized", [0] * 8, alpha=1.0, eps=1e-6)
    idx = jnp.array([3, 5, 3, 3, 7, 5, 9, -1, 2], jnp.int32)  # 9 (unfilled) and -1 are ignored
    td = jnp.array([1.0, 2.0, -3.0, 4.0, 5.0, -6.0, 100.0, 100.0, jnp.nan])
    state = setp(state, idx, td)
    leaves = np.asarray(state.priority_tree)[16:26]
    expect = np.ones(10, np.float32)
    expect[3], expect[5], expect[7] = 4 + 1e-6, 6 + 1e-6, 5 + 1e-6
    expect[2] = 1.0  # NaN td -> current max priority (1.0 before this call)
    expect[8:] = 0.0
    np.testing.assert_array_equal(leaves, expect)
    assert float(state.max_priority) == np.float32(6 + 1e-6)  # ignored 100s do not count
    assert heap_consistent(state.priority_tree, 4)


@given(
    idx=st.lists(st.integers(0, 11), min_size=1, max_size=40),
    data=st.data(),
)
def test_set_priorities_matches_sequential_reference(idx, data):
    buf, state, _, _, setp = filled(12, 1, "prioritized", [0] * 12, alpha=0.5)
    td = data.draw(st.lists(st.floats(-1e3, 1e3, width=32), min_size=len(idx), max_size=len(idx)))
    ref = np.ones(12, np.float64)
    for i, t in zip(idx, td):  # one after another: last write wins
        ref[i] = (abs(t) + 1e-6) ** 0.5
    pad = 64 - len(idx)  # fixed shapes -> one compile; padding entries point at an ignored slot
    state = setp(state, jnp.asarray(idx + [-1] * pad), jnp.asarray(td + [0.0] * pad, jnp.float32))
    np.testing.assert_allclose(np.asarray(state.priority_tree)[16:28], ref, rtol=2e-6)
    assert heap_consistent(state.priority_tree, 4)


def test_new_items_get_max_priority():
    buf, state, add, _, setp = filled(6, 1, "prioritized", [0] * 4, alpha=0.5)
    state = setp(state, jnp.array([0, 1]), jnp.array([7.0, 0.5]))
    state = setp(state, jnp.array([0]), jnp.array([0.1]))  # max is a running max: stays 7+eps
    state = add(state, batch([10, 11, 12], [0, 0, 0]))  # slots 4, 5 and (wrapped) 0
    leaves = np.asarray(state.priority_tree)[8:14]
    top = np.float32(np.float32(7 + 1e-6) ** np.float32(0.5))
    np.testing.assert_allclose(leaves[[4, 5, 0]], top, rtol=1e-6)
    np.testing.assert_allclose(leaves[1], (0.5 + 1e-6) ** 0.5, rtol=1e-6)


@pytest.mark.parametrize("kind", replay.KINDS)
def test_never_samples_unfilled_slots(kind):
    buf, state1, add, sample, _ = filled(777, 4, kind, [2])  # one item, capacity not a power of 2
    _, info1 = sample(state1, jax.random.key(1), 2048)
    assert (np.asarray(info1.indices) == 0).all() and (np.asarray(info1.weights) == 1).all()
    state = add(add(state1, batch([1], [3])), batch([2], [0]))
    _, info = sample(state, jax.random.key(0), 2048)
    assert set(np.asarray(info.indices).tolist()) == {0, 1, 2}
    assert bool(buf.can_sample(state, 3)) and not bool(buf.can_sample(state, 4))
    assert not bool(buf.can_sample(buf.init(example()), 1))


# ---------------------------------------------------------------------------------- float32 drift
def _drift_run(depth, n, steps, k, key):
    """`steps` x `k` random leaf writes (~25% exact zeros, magnitudes 1e-30..1e30) applied to (a) our
    recompute-from-children heap and (b) a delta-propagating heap (flashbax-style) fed identical writes."""
    P = 1 << depth

    def body(carry, key):
        ours, naive = carry
        k1, k2, k3 = jax.random.split(key, 3)
        leaf = jax.random.permutation(k1, n)[:k]  # unique within a step
        mag = 10.0 ** jax.random.uniform(k2, (k,), minval=-30.0, maxval=30.0)
        val = jnp.where(jax.random.uniform(k3, (k,)) < 0.25, 0.0, mag).astype(jnp.float32)
        ours = sumtree_set(ours, leaf, val, depth)
        delta = val - naive[P + leaf]
        pos = P + leaf
        for _ in range(depth + 1):
            naive = naive.at[pos].add(delta)
            pos = pos // 2
        return (ours, naive), None

    zeros = jnp.zeros(2 * P, jnp.float32)
    (ours, naive), _ = jax.lax.scan(body, (zeros, zeros), jax.random.split(key, steps))
    return ours, naive


def test_sum_tree_does_not_drift_and_never_samples_zero_leaves():
    n, depth = 1000, tree_depth(1000)  # capacity not a power of two: 24 padding leaves
    ours, naive = jax.jit(_drift_run, static_argnums=(0, 1, 2, 3))(depth, n, 800, 128, jax.random.key(0))
    ours = np.asarray(ours)
    leaves = ours[1 << depth :]
    assert (leaves[n:] == 0).all() and (leaves == 0).sum() > 100  # many zero leaves
    # (1) exactly self-consistent after 102,400 updates, bit-identical to a fresh rebuild
    assert heap_consistent(ours, depth)
    np.testing.assert_array_equal(ours, sumtree_build(jnp.asarray(leaves[:n]), depth))
    exact = leaves.astype(np.float64).sum()
    assert abs(ours[1] - exact) <= depth * F32_EPS * exact
    sub = np.zeros(2 << depth)  # exact (float64) subtree sums
    sub[1 << depth :] = leaves
    for k in range((1 << depth) - 1, 0, -1):
        sub[k] = sub[2 * k] + sub[2 * k + 1]
    inner = slice(1, 1 << depth)
    assert (np.abs(ours[inner] - sub[inner]) <= depth * F32_EPS * sub[inner]).all()
    assert (ours[inner][sub[inner] == 0] == 0).all()
    # (2) the same writes with delta propagation (flashbax-style) break: the test sees the bug it guards
    # against -- the heap is inconsistent and subtrees whose leaves are all 0 carry nonzero (even
    # negative) mass, so a descent could end on an empty slot.
    naive = np.asarray(naive)
    assert not heap_consistent(naive, depth)
    assert ((sub[inner] == 0) & (naive[inner] != 0)).any()
    # (3) descents never end on a zero leaf, including u = 0, u = root, u above the root
    tot = ours[1]
    u = np.concatenate(
        [
            np.random.default_rng(0).uniform(0, tot, 20000).astype(np.float32),
            np.array([0, tot, np.nextafter(tot, np.inf), tot * (1 - F32_EPS), np.inf], np.float32),
        ]
    )
    got = np.asarray(jax.jit(sumtree_descend, static_argnums=2)(jnp.asarray(ours), jnp.asarray(u), depth))
    assert (leaves[got] > 0).all() and (got < n).all()


@pytest.mark.parametrize("n", [1, 3, 1000, 1025])
def test_descend_adversarial_single_and_mixed_leaves(n):
    depth = tree_depth(n)
    descend = jax.jit(sumtree_descend, static_argnums=2)
    for pos in sorted({0, n // 2, n - 1}):
        leaves = np.zeros(n, np.float32)
        leaves[pos] = 1e-30
        nodes = sumtree_build(jnp.asarray(leaves), depth)
        tot = float(nodes[1])
        u = jnp.asarray([0.0, tot / 2, tot, np.nextafter(np.float32(tot), np.float32(np.inf)), 1e30], jnp.float32)
        assert (np.asarray(descend(nodes, u, depth)) == pos).all()
    if n >= 3:  # huge and tiny mixed: tiny leaves are absorbed in sums, yet never a zero leaf
        leaves = np.zeros(n, np.float32)
        leaves[0], leaves[n // 2], leaves[n - 1] = 1e30, 1e-30, 1.5e-38
        nodes = sumtree_build(jnp.asarray(leaves), depth)
        u = np.linspace(0, float(nodes[1]), 4001, dtype=np.float32)
        got = np.asarray(descend(nodes, jnp.asarray(u), depth))
        assert (leaves[got] > 0).all()


def test_buffer_tree_consistent_after_many_set_priorities():
    C, depth = 1000, 10
    buf, state, _, _, _ = filled(C, 2, "prioritized", [0, 1] * 350)  # 700 stored, 300 empty

    @jax.jit
    def churn(state, key):
        def body(s, k):
            k1, k2, k3 = jax.random.split(k, 3)
            idx = jax.random.randint(k1, (256,), 0, C)  # duplicates and unfilled slots included
            td = jax.random.normal(k2, (256,)) * 10.0 ** jax.random.uniform(k3, (256,), minval=-6, maxval=6)
            return buf.set_priorities(s, idx, td), None

        return jax.lax.scan(body, state, jax.random.split(key, 400))[0]

    state = churn(state, jax.random.key(3))  # 102,400 updates
    nodes = np.asarray(state.priority_tree)
    leaves = nodes[1 << depth :]
    assert heap_consistent(nodes, depth) and int(state.step) == 400
    assert (leaves[:700] > 0).all() and (leaves[700:] == 0).all()
    exact = leaves.astype(np.float64).sum()
    assert abs(nodes[1] - exact) <= depth * F32_EPS * exact
    _, info = jax.jit(buf.sample, static_argnums=2)(state, jax.random.key(0), 4096)
    assert int(info.indices.max()) < 700


# ------------------------------------------------------------------------------------ jit vs eager
@pytest.mark.parametrize("kind", replay.KINDS)
def test_jit_matches_eager(kind):
    buf = make_replay(11, 3, kind)

    def run(state):
        state = buf.add(state, batch(np.arange(7), [0, 1, 2, 0, 1, 0, 0]))
        items, info = buf.sample(state, jax.random.key(0), 9)
        state = buf.set_priorities(state, info.indices, items.reward - 3.0)
        state = buf.add(state, batch(np.arange(7, 14), [2, 2, 1, 1, 0, 0, 2]))
        items2, info2 = buf.sample(state, jax.random.key(1), 9)
        return state, items, info, items2, info2

    fresh = lambda: buf.init(example())  # noqa: E731
    eager = run(fresh())  # op by op, as called without jax.jit
    jitted = jax.jit(run, donate_argnums=0)(fresh())
    # State (incl. the float32 tree), indices and items are bit-identical. The derived floats
    # info.probs / info.weights may differ by 1 ulp: XLA:CPU's vectorised f32 divide is not correctly
    # rounded and whether it is used depends on fusion (x / y differs between a fused and a lone op).
    exact = (eager[0], eager[1], eager[2].indices, eager[3], eager[4].indices)
    exact_j = (jitted[0], jitted[1], jitted[2].indices, jitted[3], jitted[4].indices)
    for a, b in zip(jax.tree.leaves(exact), jax.tree.leaves(exact_j)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    for info_e, info_j in [(eager[2], jitted[2]), (eager[4], jitted[4])]:
        np.testing.assert_allclose(info_e.weights, info_j.weights, rtol=2.5e-7, atol=0)
        np.testing.assert_allclose(info_e.probs, info_j.probs, rtol=2.5e-7, atol=0)


def test_state_is_donatable():
    buf, add, _, _ = compiled(16, 2, "prioritized")
    step = jax.jit(buf.add, donate_argnums=0)
    state = buf.init(example())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(3):
            state = step(state, batch([i], [i % 2]))
    assert not [w for w in caught if "donat" in str(w.message).lower()]
    assert int(state.size) == 3


def test_fused_steps_update_in_place():
    """sample -> set_priorities and add -> sample in one jit must not copy the tree / skill ids (a read
    not ordered before an in-place write makes XLA copy the array: 10x slower at capacity 1e6)."""
    C, P = 3000, 4096
    buf = make_replay(C, 4, "prioritized")
    state = jax.eval_shape(buf.init, example())

    def step(state, key):
        state = buf.add(state, batch(jnp.arange(16), jnp.arange(16) % 4))
        items, info = buf.sample(state, key, 64)
        return buf.set_priorities(state, info.indices, (items.reward - items.obs[:, 0]) * info.weights)

    hlo = jax.jit(step, donate_argnums=0).lower(state, jax.random.key(0)).compile().as_text()
    assert f"f32[{2 * P}]{{0}} copy(" not in hlo and f"s32[{C}]{{0}} copy(" not in hlo


@pytest.mark.parametrize("kind", ["balanced", "prioritized"])  # uniform has no batched special case
def test_vmap_over_seeds_matches_per_seed(kind):
    """jaxmeta.train vmaps the buffer over seeds: batched results equal the per-seed ones."""
    buf = make_replay(20, 3, kind)

    def run(key):
        state = buf.init(example())
        serial = jax.random.uniform(key, (25,)) * 100
        state = buf.add(state, batch(serial, (jnp.arange(25) * 7) % 3))
        items, info = buf.sample(state, key, 12)
        state = buf.set_priorities(state, info.indices, items.reward)
        return state, buf.sample(state, jax.random.fold_in(key, 1), 12)

    keys = jax.random.split(jax.random.key(5), 2)
    batched = jax.jit(jax.vmap(run))(keys)
    single = jax.jit(run)
    for s in range(2):
        (st1, (it1, in1)), (stb, (itb, inb)) = single(keys[s]), batched
        for a, b in zip(jax.tree.leaves((st1, it1, in1.indices)), jax.tree.leaves((stb, itb, inb.indices))):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b)[s])
        # f32 divisions inside differently fused kernels may differ by 1 ulp (see test_jit_matches_eager)
        np.testing.assert_allclose(in1.weights, inb.weights[s], rtol=2.5e-7, atol=0)
        np.testing.assert_allclose(in1.probs, inb.probs[s], rtol=2.5e-7, atol=0)


@pytest.mark.parametrize("kind", ["uniform", "balanced", "prioritized"])
@pytest.mark.parametrize("jit", [False, True])
def test_masked_add_is_a_noop_when_not_valid_and_add_when_valid(kind, jit):
    """add(state, items, valid=False) leaves every leaf bitwise as it was (also when full and wrapping, so
    nothing is evicted); valid=True is the plain add. (The trainer's evaluation steps add with valid=False.)"""
    buf = make_replay(16, 3, kind)
    add = jax.jit(buf.add) if jit else buf.add
    state = buf.init(example())
    for k in range(3):  # 18 items into 16 slots: full, wrapped
        state = add(state, batch(np.arange(6) + 6 * k, [0, 1, 2, 0, 1, 1]))
    if kind == "prioritized":
        state = buf.set_priorities(state, jnp.arange(8), jnp.linspace(0.1, 3.0, 8))
    items = batch(np.arange(100, 105), [2, 2, 0, 1, 2])
    same = add(state, items, jnp.asarray(False))
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(same), jax.device_get(state))
    jax.tree.map(
        np.testing.assert_array_equal,
        jax.device_get(add(state, items, jnp.asarray(True))),
        jax.device_get(add(state, items)),
    )
    with pytest.raises(ValueError, match=r"valid must be a \(\) or \(5,\) bool, got shape \(4,\)"):
        buf.add(state, items, jnp.ones((4,), bool))
    with pytest.raises(ValueError, match="per-item valid needs at most capacity=16 items, got E=17"):
        buf.add(state, batch(np.arange(17), np.zeros(17, int)), jnp.ones((17,), bool))


@given(
    kind=st.sampled_from(["uniform", "balanced", "prioritized"]),
    before=st.integers(0, 20),
    valid_bits=st.lists(st.booleans(), min_size=1, max_size=16),
    jit=st.booleans(),
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_per_item_valid_adds_exactly_the_valid_items(kind, before, valid_bits, jit):
    """add(state, items, valid (E,)) is bitwise add(state, items[valid]) (nothing when none is valid), from
    empty, partly filled, full and wrapped buffers; all True is the plain add. (The trainer drops
    non-finite transitions so.)"""
    buf = make_replay(16, 3, kind)
    add = jax.jit(buf.add) if jit else buf.add
    state = buf.init(example())
    if before:
        state = buf.add(state, batch(np.arange(before), np.arange(before) % 3))
    if kind == "prioritized" and before:
        state = buf.set_priorities(state, jnp.arange(min(before, 16)), jnp.linspace(0.1, 3.0, min(before, 16)))
    E = len(valid_bits)
    valid = np.asarray(valid_bits)
    items = batch(np.arange(100, 100 + E), (np.arange(E) * 7) % 3)
    got = jax.device_get(add(state, items, jnp.asarray(valid)))
    if valid.any():
        want = jax.device_get(buf.add(state, jax.tree.map(lambda x: x[np.flatnonzero(valid)], items)))
    else:
        want = jax.device_get(state)
    jax.tree.map(np.testing.assert_array_equal, got, want)
    if valid.all():
        jax.tree.map(np.testing.assert_array_equal, got, jax.device_get(buf.add(state, items)))
