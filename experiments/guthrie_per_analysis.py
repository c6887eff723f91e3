"""Seed 000 Figs. 9-10: the PER priority histogram and replay count vs priority of every stored transition.

    python experiments/guthrie_per_analysis.py --preset small   # toy/1, 30k steps + 4k counted updates (~1 min)
    python experiments/guthrie_per_analysis.py --preset full    # MT1/peg-insert-side-v3, 100k steps (GPU)

Trains MT-SAC with prioritized replay (jaxmeta.train's chunk, priorities = |TD| + eps), then runs a
measurement phase of `count_updates` further PER SAC updates (sample -> IS-weighted update -> priority
refresh, the trainer's rule) that counts how often each slot is drawn. Priority of slot i =
leaf_i^(1/alpha) from the sum tree (leaves store p^alpha). Writes guthrie_per_analysis.csv (slot,
skill_id, priority, replay_count) and .png (histogram; scatter).
"""

from __future__ import annotations

import _study as st

NAME = "guthrie_per_analysis"


def main(argv=None):
    args = st.parser(NAME, __doc__).parse_args(argv)
    out = st.out_dir(args, NAME)
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxmeta.config import TrainConfig, check_ported, preset
    from jaxmeta.sac import make_sac
    from jaxmeta.train import make_train

    if args.preset == "small":
        cfg = TrainConfig(
            **dict(st.TOY_SMALL, benchmark="toy/1", per=True, total_steps=30_000, eval_every=0, seed=args.seed)
        )
        count_updates = 4_000
    else:
        check_ported("MT1/peg-insert-side-v3")
        cfg = preset(
            "default",
            benchmark="MT1/peg-insert-side-v3",
            per=True,
            total_steps=100_000,
            max_path_length=500,
            seed=args.seed,
        )
        count_updates = 50_000
    tr = make_train(cfg)
    ts = jax.jit(tr.init)(tr.seed_key(0))
    chunk = jax.jit(tr.chunk, donate_argnums=0)
    for _ in range(cfg.num_chunks):
        ts, m = chunk(ts)
    print(f"trained {int(ts.env_steps)} env steps, {int(ts.updates)} updates")
    buf, sac = tr.buffer, make_sac(cfg.sac, tr.networks)
    B = cfg.batch_size

    @jax.jit
    def measure(agent, replay, key):
        def body(carry, k):
            agent, replay, counts = carry
            k1, k2 = jax.random.split(k)
            batch, info = buf.sample(replay, k1, B)
            agent, _, td = sac.update(agent, batch, k2, info.weights)
            replay = buf.set_priorities(replay, info.indices, td)
            return (agent, replay, counts.at[info.indices].add(1)), None

        counts = jnp.zeros((buf.capacity,), jnp.int32)
        (agent, replay, counts), _ = jax.lax.scan(body, (agent, replay, counts), jax.random.split(key, count_updates))
        return replay, counts

    replay, counts = measure(ts.agent, ts.replay, jax.random.PRNGKey(123))
    size = int(replay.size)
    P = replay.priority_tree.shape[0] // 2
    leaves = np.asarray(replay.priority_tree[P : P + size])
    prio = leaves ** (1.0 / cfg.per_alpha)
    counts = np.asarray(counts[:size])
    tids = np.asarray(replay.skill_ids[:size])
    rows = [
        {"slot": i, "skill_id": int(tids[i]), "priority": float(prio[i]), "replay_count": int(counts[i])}
        for i in range(size)
    ]
    st.write_csv(out / f"{NAME}.csv", rows)
    plt = st.plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    a.hist(prio, bins=60, color="tab:blue")
    a.set_yscale("log")
    a.set_xlabel("priority |TD| + eps")
    a.set_ylabel("transitions")
    a.set_title(f"PER priorities ({cfg.benchmark}, {size:,} stored)")
    b.scatter(prio, counts, s=2, alpha=0.3)
    b.set_xlabel("priority")
    b.set_ylabel(f"times replayed in {count_updates:,} updates (batch {B})")
    b.set_title("replay count vs priority (paper 000 Fig. 10)")
    for ax in (a, b):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / f"{NAME}.png", dpi=110)
    q = np.quantile(prio, [0.5, 0.9, 0.99, 1.0])
    hi = prio >= q[2]
    print(
        f"priority quantiles 50/90/99/100%: {np.round(q, 4)}; mean replay count: all {counts.mean():.2f}, "
        f"top 1% priority {counts[hi].mean():.2f}, bottom 50% {counts[prio <= q[0]].mean():.2f}; "
        f"corr(priority, count) = {np.corrcoef(prio, counts)[0, 1]:.3f}"
    )


if __name__ == "__main__":
    main()
