"""Benchmark jaxmeta.replay against flashbax (same machine, same items, one run, side by side).

On a full buffer of `--capacity` Meta-World-sized transitions (obs 39, action 4, 340 bytes) it times
  PER sample, PER set_priorities, PER sample+set_priorities (the per-update cost of prioritized SAC),
  PER add, uniform sample / add (flashbax item buffer), balanced sample / add (jaxmeta only),
and reports each sum tree's root against a float64 sum of its leaves after the timed PER updates.

Method: every operation is a jitted `state -> state` step with the buffer state donated. Compile time
(lower + compile; the persistent cache is not enabled here) is reported separately. Steady state: after
`--warmup` rounds, `--repeats` rounds of `--iters` steps run inside one jitted fori_loop (one dispatch
and block_until_ready per round), median seconds per step; the rounds of jaxmeta and flashbax alternate
so that load from other processes hits both alike. Wall and CPU (process) time are both reported. In both PER steps the IS weights are computed and used (flashbax returns
probabilities; weights = (N P)^-beta / max as jaxmeta's sample does) and the TD errors depend on the
sampled items, so no work is dead code. flashbax is used with its own device-specific choice
(`device="cpu"`: scan-based priority updates; "gpu"/"tpu": bincount-based).

    .venv/bin/python experiments/bench_replay.py                 # capacity 1e6, batch 1280
    .venv/bin/python experiments/bench_replay.py --quick         # small sizes, about a minute
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from importlib import metadata

import jaxmeta  # noqa: F401  (XLA CPU flag before JAX starts)
import jax
import jax.numpy as jnp
import numpy as np

from jaxmeta.replay import make_replay, tree_depth

try:
    import flashbax as fbx
except ImportError:  # pragma: no cover - optional
    fbx = None


def example_item(obs_dim: int, act_dim: int) -> dict:
    return {
        "obs": jnp.zeros((obs_dim,), jnp.float32),
        "action": jnp.zeros((act_dim,), jnp.float32),
        "reward": jnp.zeros((), jnp.float32),
        "next_obs": jnp.zeros((obs_dim,), jnp.float32),
        "discount": jnp.zeros((), jnp.float32),
        "skill_id": jnp.zeros((), jnp.int32),
    }


def random_items(key, n: int, obs_dim: int, act_dim: int, num_skills: int) -> dict:
    k = jax.random.split(key, 5)
    return {
        "obs": jax.random.normal(k[0], (n, obs_dim)),
        "action": jax.random.uniform(k[1], (n, act_dim), minval=-1, maxval=1),
        "reward": jax.random.uniform(k[2], (n,)) * 10,
        "next_obs": jax.random.normal(k[3], (n, obs_dim)),
        "discount": jnp.ones((n,)),
        "skill_id": jax.random.randint(k[4], (n,), 0, num_skills, dtype=jnp.int32),
    }


def timed_compile(fn, *args):
    t0 = time.perf_counter()
    compiled = jax.jit(fn, donate_argnums=0).lower(*args).compile()
    return compiled, time.perf_counter() - t0


class Subject:
    """One buffer implementation: its state and its `state, key -> state` steps."""

    def __init__(self, name, state, steps):
        self.name, self.state, self.steps = name, state, steps


def looped(step, iters):
    """`iters` steps in one jitted fori_loop: one dispatch per round, as in a scanned training chunk."""

    def run(state, keys):
        return jax.lax.fori_loop(0, iters, lambda i, s: step(s, keys[i % keys.shape[0]]), state)

    return run


def measure(subjects, op, keys, warmup, iters, repeats):
    """{name: (median wall s/step, min wall s/step, median CPU s/step, compile s of one step)} for `op`.

    Compile time is that of the single step. Steady state runs `iters` steps per call inside one jit
    (so Python dispatch is not what is measured), `repeats` rounds alternating between subjects.
    CPU time (process time, all threads) is shown too: on a shared machine it is steadier than wall."""
    compiled, out, wall, cpu = {}, {}, {}, {}
    for s in subjects:
        _, out[s.name] = timed_compile(s.steps[op], s.state, keys[0])
        compiled[s.name], _ = timed_compile(looped(s.steps[op], iters), s.state, keys)
        wall[s.name], cpu[s.name] = [], []
    for s in subjects:
        for _ in range(warmup):
            s.state = compiled[s.name](s.state, keys)
        jax.block_until_ready(s.state)
    for r in range(repeats):
        for s in subjects:
            rkeys = jax.random.split(jax.random.fold_in(keys[0], r), keys.shape[0])
            jax.block_until_ready(rkeys)
            t0, c0 = time.perf_counter(), time.process_time()
            s.state = compiled[s.name](s.state, rkeys)
            jax.block_until_ready(s.state)
            wall[s.name].append((time.perf_counter() - t0) / iters)
            cpu[s.name].append((time.process_time() - c0) / iters)
    return {n: (statistics.median(wall[n]), min(wall[n]), statistics.median(cpu[n]), out[n]) for n in wall}


def fill(add, state, items_fn, capacity, chunk):
    compiled, t_compile = timed_compile(add, state, items_fn(0))
    t0 = time.perf_counter()
    for start in range(0, capacity, chunk):
        state = compiled(state, items_fn(start))
    jax.block_until_ready(state)
    return state, time.perf_counter() - t0, t_compile


def consume(x):
    """A zero that depends on x (keeps a sampled batch alive without changing the state)."""
    return 0 * jnp.sum(x)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--capacity", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=1280)
    ap.add_argument("--add-batch", type=int, default=500, help="items per add call (e.g. envs per step)")
    ap.add_argument("--num-tasks", type=int, default=50)
    ap.add_argument("--obs-dim", type=int, default=39)
    ap.add_argument("--act-dim", type=int, default=4)
    ap.add_argument("--alpha", type=float, default=0.6)
    ap.add_argument("--fill-chunk", type=int, default=50_000)
    ap.add_argument("--iters", type=int, default=50, help="steps per timed round (one jitted loop)")
    ap.add_argument("--repeats", type=int, default=7, help="timed rounds; the median is reported")
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds")
    ap.add_argument("--quick", action="store_true", help="capacity 20k, batch 256, add 100, fewer calls")
    ap.add_argument("--no-flashbax", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.capacity, args.batch, args.add_batch = 20_000, 256, 100
        args.fill_chunk, args.iters, args.repeats, args.warmup = 5_000, 20, 5, 1
    C, B, E, T, O, A = args.capacity, args.batch, args.add_batch, args.num_skills, args.obs_dim, args.act_dim
    use_fbx = fbx is not None and not args.no_flashbax
    backend = jax.default_backend()
    fbx_version = metadata.version("flashbax") if use_fbx else "n/a"
    print(f"jax {jax.__version__}  backend={backend} ({jax.devices()[0].device_kind})  flashbax {fbx_version}")
    print(
        f"capacity={C:,} batch={B} add_batch={E} tasks={T} item=340 B "
        f"({C * (2 * O + A + 3) * 4 / 2**20:,.0f} MiB of items per buffer); time per step = median of "
        f"{args.repeats} rounds of {args.iters} steps in one jitted loop, after {args.warmup} warmup round(s)"
    )

    ex = example_item(O, A)
    chunk = min(args.fill_chunk, C)
    fill_key = jax.random.key(123)
    fill_items = jax.jit(lambda s: random_items(jax.random.fold_in(fill_key, s), chunk, O, A, T))
    add_items = random_items(jax.random.key(7), E, O, A, T)
    keys = jax.random.split(jax.random.key(0), 64)
    timing = dict(keys=keys, warmup=args.warmup, iters=args.iters, repeats=args.repeats)
    beta, eps = 0.4, 1e-6
    results, notes = {}, []
    t_start = time.perf_counter()

    # ------------------------------------------------------------------------------ PER: jaxmeta
    per = make_replay(C, T, "prioritized", alpha=args.alpha, eps=eps, beta_start=beta)
    state, t_fill, t_addc = fill(per.add, per.init(ex), fill_items, C, chunk)
    notes.append(f"fill {C:,} items in chunks of {chunk:,}: jaxmeta PER {t_fill:.1f} s (add compile {t_addc:.2f} s)")

    def jm_sample(state, key):
        batch, info = per.sample(state, key, B)
        return state.replace(max_priority=state.max_priority + consume(batch["reward"] * info.weights))

    def jm_set(state, key):
        idx = jax.random.randint(key, (B,), 0, C)
        return per.set_priorities(state, idx, jax.random.normal(key, (B,)))

    def jm_sample_set(state, key):
        batch, info = per.sample(state, key, B)
        td = (batch["reward"] - jnp.mean(batch["obs"], axis=1)) * info.weights
        return per.set_priorities(state, info.indices, td)

    def jm_add(state, key):
        return per.add(state, add_items)

    subjects = [Subject("jaxmeta", state, dict(sample=jm_sample, set=jm_set, sample_set=jm_sample_set, add=jm_add))]

    # ----------------------------------------------------------------------------- PER: flashbax
    if use_fbx:
        device = backend if backend in ("gpu", "tpu") else "cpu"
        fper = fbx.make_prioritised_item_buffer(
            max_length=C,
            min_length=B,
            sample_batch_size=B,
            add_sequences=False,
            add_batches=True,
            priority_exponent=args.alpha,
            device=device,
        )
        fstate, t_fill, t_addc = fill(fper.add, fper.init(ex), fill_items, C, chunk)
        notes.append(
            f"fill {C:,} items in chunks of {chunk:,}: flashbax PER {t_fill:.1f} s (add compile {t_addc:.2f} s)"
        )

        def is_weights(probs):
            # Buffer is full: N = C. A draw with probability 0 (an empty slot, reachable once the
            # delta-updated tree drifts -- flashbax issue #52) would give w = inf and NaN priorities that
            # poison the tree (seen in this benchmark); give it weight 0 instead.
            w = jnp.where(probs > 0, (C * probs) ** (-beta), 0.0)
            return w / jnp.max(w)

        def fx_sample(state, key):
            s = fper.sample(state, key)
            t = state.sum_tree_state
            bump = consume(s.experience["reward"] * is_weights(s.probabilities))
            return state.replace(sum_tree_state=t.replace(max_recorded_priority=t.max_recorded_priority + bump))

        def fx_set(state, key):
            idx = jax.random.randint(key, (B,), 0, C)
            return fper.set_priorities(state, idx, jnp.abs(jax.random.normal(key, (B,))) + eps)

        def fx_sample_set(state, key):
            s = fper.sample(state, key)
            td = (s.experience["reward"] - jnp.mean(s.experience["obs"], axis=1)) * is_weights(s.probabilities)
            return fper.set_priorities(state, s.indices, jnp.abs(td) + eps)

        def fx_add(state, key):
            return fper.add(state, add_items)

        subjects.append(
            Subject("flashbax", fstate, dict(sample=fx_sample, set=fx_set, sample_set=fx_sample_set, add=fx_add))
        )
    del state
    for op in ("sample", "set", "sample_set", "add"):
        results["PER", op] = measure(subjects, op, **timing)
        print(f"  measured PER {op}", flush=True)

    def root_error(nodes, root, first_leaf):
        leaves = np.asarray(nodes)[first_leaf:][:C].astype(np.float64)
        return abs(float(root) - leaves.sum()) / leaves.sum()

    s = subjects[0].state
    errs = [f"jaxmeta {root_error(s.priority_tree, s.priority_tree[1], 1 << tree_depth(C)):.1e}"]
    draws = 200 * B
    info = jax.jit(lambda s, k: jax.vmap(lambda kk: per.sample(s, kk, B)[1])(jax.random.split(k, 200)))(
        s, jax.random.key(99)
    )
    bad = [f"jaxmeta {int(jnp.sum((info.probs == 0) | (info.indices >= C)))}"]
    if use_fbx:
        t = subjects[1].state.sum_tree_state
        errs.append(f"flashbax {root_error(t.nodes, t.nodes[0], (1 << t.tree_depth) - 1):.1e}")
        smp = jax.jit(lambda s, k: jax.vmap(lambda kk: fper.sample(s, kk))(jax.random.split(k, 200)))(
            subjects[1].state, jax.random.key(99)
        )
        bad.append(f"flashbax {int(jnp.sum((smp.probabilities == 0) | (smp.indices >= C)))}")
    notes.append("sum-tree root vs float64 sum of leaves after the timed PER updates: " + ", ".join(errs))
    notes.append(
        f"draws of an empty slot (probability 0 / index >= capacity) in {draws:,} draws after them: " + ", ".join(bad)
    )
    subjects = s = t = None
    gc.collect()

    # --------------------------------------------------------------------------- uniform / balanced
    for kind in ("uniform", "balanced"):
        buf = make_replay(C, T, kind)
        state, _, _ = fill(buf.add, buf.init(ex), fill_items, C, chunk)

        def u_sample(state, key, buf=buf):
            batch, _ = buf.sample(state, key, B)
            return state.replace(step=state.step + consume(batch["reward"]).astype(jnp.int32))

        def u_add(state, key, buf=buf):
            return buf.add(state, add_items)

        subjects = [Subject("jaxmeta", state, dict(sample=u_sample, add=u_add))]
        if use_fbx and kind == "uniform":
            fu = fbx.make_item_buffer(max_length=C, min_length=B, sample_batch_size=B, add_batches=True)
            fstate, _, _ = fill(fu.add, fu.init(ex), fill_items, C, chunk)

            def f_sample(state, key):
                s = fu.sample(state, key)
                return state.replace(
                    current_index=state.current_index
                    + consume(s.experience["reward"]).astype(state.current_index.dtype)
                )

            def f_add(state, key):
                return fu.add(state, add_items)

            subjects.append(Subject("flashbax", fstate, dict(sample=f_sample, add=f_add)))
        del state
        for op in ("sample", "add"):
            results[kind, op] = measure(subjects, op, **timing)
            print(f"  measured {kind} {op}", flush=True)
        subjects = None
        gc.collect()
    total = time.perf_counter() - t_start

    # --------------------------------------------------------------------------------------- table
    hdr = (
        f"{'operation':<36} {'jaxmeta/s':>11} {'flashbax/s':>11} {'ratio':>6} | {'jm ms: med':>10} {'min':>6} "
        f"{'cpu':>6} | {'fbx ms: med':>11} {'min':>6} {'cpu':>6} | {'min ratio':>9} {'cpu ratio':>9} | "
        f"{'compile jm':>10} {'fbx':>6}"
    )
    print("\n" + hdr + "\n" + "-" * len(hdr))

    def row(label, key, per_call=1):
        r = results[key]
        o_med, o_min, o_cpu, o_c = r["jaxmeta"]
        f = r.get("flashbax")
        d = "-"
        print(
            f"{label:<36} {per_call / o_med:>11,.0f} {(f'{per_call / f[0]:,.0f}' if f else d):>11} "
            f"{(f'{f[0] / o_med:.2f}x' if f else d):>6} | {o_med * 1e3:>10.3f} {o_min * 1e3:>6.3f} "
            f"{o_cpu * 1e3:>6.3f} | {(f'{f[0] * 1e3:.3f}' if f else d):>11} {(f'{f[1] * 1e3:.3f}' if f else d):>6} "
            f"{(f'{f[2] * 1e3:.3f}' if f else d):>6} | {(f'{f[1] / o_min:.2f}x' if f else d):>9} "
            f"{(f'{f[2] / o_cpu:.2f}x' if f else d):>9} | {o_c:>9.2f}s {(f'{f[3]:.2f}s' if f else d):>6}"
        )

    row(f"PER sample (B={B})", ("PER", "sample"))
    row(f"PER set_priorities (B={B})", ("PER", "set"))
    row(f"PER sample+set_priorities (B={B})", ("PER", "sample_set"))
    row(f"PER add (E={E}), items/s", ("PER", "add"), per_call=E)
    row(f"uniform sample (B={B})", ("uniform", "sample"))
    row(f"uniform add (E={E}), items/s", ("uniform", "add"), per_call=E)
    row(f"balanced sample (B={B}, {T} tasks)", ("balanced", "sample"))
    row(f"balanced add (E={E}), items/s", ("balanced", "add"), per_call=E)
    print("-" * len(hdr))
    print(
        "/s = steps (items, for add) per second from the median wall time; ms = per step: median wall, "
        "min wall, median CPU time of all threads;\nratios = flashbax time / jaxmeta time (>1: jaxmeta "
        "faster) from median wall, min wall, CPU; compile = one step, lower + compile"
    )
    for n in notes:
        print(n)
    print(f"benchmark wall time {total:.0f} s")


if __name__ == "__main__":
    main()
