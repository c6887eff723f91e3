"""Float32 sum-tree drift after many priority updates: jaxmeta.replay's tree next to flashbax's, one run.

    .venv/bin/python experiments/sumtree_drift.py                       # 1e8 updates, 2**18 leaves
    .venv/bin/python experiments/sumtree_drift.py --updates 1e6 --quick  # a smoke run (seconds)

Both trees hold the same leaves and receive the same updates (float32 nodes, as both libraries store
them). Leaves: 2**log2_leaves; the odd ones stay 0 for the whole run (items that must never be sampled,
e.g. empty slots or zero-priority items), the even ones start at and are set to log-normal priorities
``exp(sigma * N(0, 1))`` (sigma 3: about eight decades, like |TD| errors early and late in training).
Each update is a batch of `--batch` distinct even leaves (an odd-stride walk from a random offset) set
to new values. jaxmeta: `sumtree_set` (every touched ancestor recomputed from its two children).
flashbax 0.1.3: `sum_tree.set_batch_bincount` (leaf deltas added to the ancestors; its `set_batch_scan`,
used on CPU, adds the same deltas one leaf at a time). After every `--every` updates, per tree:

- ``rel_err``: |root - sum of the current leaves in float64| / that sum;
- ``neg_nodes``: internal nodes below 0 (a delta-updated tree can go negative where the leaves are 0);
- ``zero_hits``: of `--queries` evenly spaced mass positions u in [0, 1) (the tree's own sampling rule:
  flashbax's ``sample(query_value=u)``, jaxmeta's ``sumtree_descend(u * root)``), how many select a leaf
  that is 0; ``zero_hits_top``: the same for u evenly spaced in the last 1e-4 of the mass, where a root
  above the leaves' true sum sends the descent into empty subtrees.

Prints a table and writes `--json`.
"""

from __future__ import annotations

import argparse
import json
import time
from importlib import metadata

import jaxmeta  # noqa: F401  (XLA CPU flag before JAX starts)
import jax
import jax.numpy as jnp
import numpy as np

from jaxmeta.replay import sumtree_build, sumtree_descend, sumtree_set


def _count(text: str) -> int:
    """`jaxmeta.cli`'s step counts (1e8, 10M, 500k), >= 1."""
    from jaxmeta.cli import _count as count

    v = count(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1 such as 1e8, got {text!r}")
    return v


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--updates", type=_count, default=100_000_000, help="leaf updates in total (e.g. 1e8)")
    p.add_argument("--every", type=_count, default=10_000_000, help="updates between measurements")
    p.add_argument("--log2-leaves", type=int, default=18, help="the trees have 2**this leaves (half stay 0)")
    p.add_argument("--batch", type=int, default=1000, help="leaves set per update call")
    p.add_argument("--sigma", type=float, default=3.0, help="log-normal spread of the priorities")
    p.add_argument("--queries", type=_count, default=65_536, help="mass positions probed per measurement")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the measurements here")
    p.add_argument("--quick", action="store_true", help="measure every --updates / 4 (smoke run)")
    a = p.parse_args(argv)
    if not 4 <= a.log2_leaves <= 24:
        p.error(f"--log2-leaves must be in [4, 24], got {a.log2_leaves}")
    half = 1 << (a.log2_leaves - 1)
    if not 1 <= a.batch <= half:
        p.error(f"--batch must be in [1, {half}] (distinct even leaves per call), got {a.batch}")
    if a.quick:
        a.every = max(a.batch, a.updates // 4)
    if a.every % a.batch or a.updates % a.every:
        p.error(f"--every ({a.every}) must be a multiple of --batch ({a.batch}) and divide --updates ({a.updates})")
    try:
        from flashbax.buffers import sum_tree as fst
    except ImportError:
        p.error("needs flashbax (pip install -e '.[bench]')")

    depth, n = a.log2_leaves, 1 << a.log2_leaves
    key = jax.random.PRNGKey(a.seed)
    key, k0 = jax.random.split(key)
    leaves0 = jnp.zeros((n,), jnp.float32).at[0::2].set(jnp.exp(a.sigma * jax.random.normal(k0, (half,))))
    ours0 = sumtree_build(leaves0, depth)  # heap (2n,): root at 1, leaves at [n, 2n)
    fb0 = fst.init(n)
    assert fb0.tree_depth == depth and fb0.nodes.dtype == jnp.float32
    fb0 = fst.set_batch_bincount(fb0, jnp.arange(0, n, 2), leaves0[0::2])

    calls = a.every // a.batch

    def batch(k):
        ko, ks, kv = jax.random.split(k, 3)
        offset = jax.random.randint(ko, (), 0, half)
        stride = 2 * jax.random.randint(ks, (), 0, half // 2) + 1  # odd: the walk visits distinct leaves
        idx = 2 * ((offset + stride * jnp.arange(a.batch)) % half)
        return idx, jnp.exp(a.sigma * jax.random.normal(kv, (a.batch,)))

    @jax.jit
    def run(ours, fb, key):
        def body(_, c):
            ours, fb, key = c
            key, k = jax.random.split(key)
            idx, vals = batch(k)
            return sumtree_set(ours, idx, vals, depth), fst.set_batch_bincount(fb, idx, vals), key

        return jax.lax.fori_loop(0, calls, body, (ours, fb, key))

    u_all = (jnp.arange(a.queries) + 0.5) / a.queries
    u_top = 1.0 - 1e-4 * (jnp.arange(a.queries) + 0.5) / a.queries

    @jax.jit
    def probe(ours, fb):
        def hits(u):
            mine = sumtree_descend(ours, (u * ours[1]).astype(jnp.float32), depth)
            theirs = jax.vmap(lambda q: fst.sample(fb, None, q))(u)
            return (mine % 2 == 1).sum(), (theirs % 2 == 1).sum()

        (m_all, f_all), (m_top, f_top) = hits(u_all), hits(u_top)
        fb_internal = fb.nodes[: n - 1]
        return dict(
            ours_root=ours[1],
            ours_leaves=ours[n:],
            fb_root=fb.nodes[0],
            fb_leaves=fb.nodes[n - 1 :],
            ours_neg=(ours[1:n] < 0).sum(),
            fb_neg=(fb_internal < 0).sum(),
            ours_zero=m_all,
            fb_zero=f_all,
            ours_zero_top=m_top,
            fb_zero_top=f_top,
        )

    def measure(done, ours, fb, seconds):
        r = jax.device_get(probe(ours, fb))
        row = {"updates": done, "seconds": round(seconds, 1)}
        for name in ("ours", "fb"):
            true = float(np.sum(r[f"{name}_leaves"].astype(np.float64)))
            row[name] = {
                "root": float(r[f"{name}_root"]),
                "leaf_sum_f64": true,
                "rel_err": abs(float(r[f"{name}_root"]) - true) / true,
                "neg_nodes": int(r[f"{name}_neg"]),
                "zero_hits": int(r[f"{name}_zero"]),
                "zero_hits_top": int(r[f"{name}_zero_top"]),
            }
        assert np.array_equal(r["ours_leaves"], r["fb_leaves"]), "the two trees' leaves differ"
        return row

    t0 = time.perf_counter()
    lowered = run.lower(ours0, fb0, key)
    compiled = lowered.compile()
    compile_s = time.perf_counter() - t0
    rows = [measure(0, ours0, fb0, 0.0)]
    ours, fb = ours0, fb0
    t_run = 0.0
    for done in range(a.every, a.updates + 1, a.every):
        t = time.perf_counter()
        ours, fb, key = compiled(ours, fb, key)
        jax.block_until_ready(ours)
        t_run += time.perf_counter() - t
        rows.append(measure(done, ours, fb, t_run))
        print(f"{done:>12,} updates ({t_run:.0f} s)", flush=True)

    print(
        f"\nfloat32 sum trees, 2**{depth} leaves (odd ones 0), batch {a.batch}, log-normal sigma {a.sigma}, "
        f"seed {a.seed}; compile {compile_s:.1f} s; jax {jax.__version__}, flashbax {metadata.version('flashbax')}"
    )
    print(f"zero-leaf hits of {a.queries} probes over all mass / over its last 1e-4")
    print(
        f"{'updates':>12} | {'jaxmeta rel err':>15} {'neg':>4} {'zero':>5} {'top':>6} | "
        f"{'flashbax rel err':>16} {'neg':>6} {'zero':>5} {'top':>6}"
    )
    for r in rows:
        o, f = r["ours"], r["fb"]
        print(
            f"{r['updates']:>12,} | {o['rel_err']:>15.3e} {o['neg_nodes']:>4} {o['zero_hits']:>5} "
            f"{o['zero_hits_top']:>6} | {f['rel_err']:>16.3e} {f['neg_nodes']:>6} {f['zero_hits']:>5} "
            f"{f['zero_hits_top']:>6}"
        )
    if a.json:
        out = {
            "command": "python experiments/sumtree_drift.py " + " ".join(argv or __import__("sys").argv[1:]),
            "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "compile_s": round(compile_s, 1),
            "args": vars(a),
            "jax": jax.__version__,
            "flashbax": metadata.version("flashbax"),
            "rows": rows,
        }
        with open(a.json, "w") as f:
            json.dump(out, f, indent=1)
        print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
