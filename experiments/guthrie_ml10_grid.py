"""Seed 000 Figs. 7-8: fine-tuning on held-out skills over a grid of pretraining steps x fine-tuning
episodes, with uniform replay and with PER; forgetting = success on the pretraining skills.

    python experiments/guthrie_ml10_grid.py --preset small   # toy/2 -> 2 new toy skills, ~3 min CPU
    python experiments/guthrie_ml10_grid.py --preset full    # ML10 (GPU)

One pretraining run per replay kind keeps a checkpoint at every grid point (``step=``); each is
fine-tuned (fresh buffer, 1 update per env step, paper 000) and evaluated after every block of episodes.
Writes guthrie_ml10_grid.csv (replay, pretrain_steps, finetune_episodes, success, source_success) and .png.
"""

from __future__ import annotations

import _study as st

NAME = "guthrie_ml10_grid"


def main(argv=None):
    args = st.parser(NAME, __doc__).parse_args(argv)
    out = st.out_dir(args, NAME)
    from jaxmeta.config import TrainConfig, check_ported

    if args.preset == "small":
        bench, common = "toy/2", dict(st.TOY_SMALL)
        grid, episodes, block = (4_000, 16_000, 40_000), 80, 10
    else:
        bench = "ML10"
        check_ported(bench), check_ported(bench, "test")
        common = dict(
            envs_per_skill=1,
            max_path_length=500,
            warmup_steps=15_000,
            chunk_steps=50_000,
            batch_size=1280,
            buffer_capacity=1_000_000,
            updates_per_step=1,
            eval_episodes=10,
            network=dict(hidden=(400, 400, 400)),
            sac=dict(actor_lr=3e-4, critic_lr=3e-4, alpha_lr=3e-4, discount=0.99),
        )
        grid, episodes, block = (100_000, 500_000, 2_000_000), 200, 20
    from jaxmeta.config import benchmark_skills

    n_env = len(benchmark_skills(bench, "test")) * common["envs_per_skill"]
    ep_steps = common["max_path_length"] * n_env  # env steps of one episode on every test env
    rows = []
    for per in (False, True):
        tag = "per" if per else "uniform"
        pre = out / f"pretrain-{tag}"
        st.train_run(
            TrainConfig(
                **dict(
                    common,
                    benchmark=bench,
                    per=per,
                    total_steps=max(grid),
                    seed=args.seed,
                    chunk_steps=min(common["chunk_steps"], min(grid)),
                    eval_every=min(grid),
                    checkpoint_every=min(grid),
                    keep_checkpoints=100,
                    out=str(pre),
                )
            )
        )
        steps = sorted(int(p.name) for p in (pre / "checkpoints").iterdir() if p.name.isdigit())
        for g in grid:
            step = min(s for s in steps if s >= g)
            d = out / f"finetune-{tag}-{g}"
            st.finetune_run(
                str(pre),
                benchmark=bench,
                split="test",
                step=step,
                per=per,
                keep_buffer=False,
                total_steps=episodes * ep_steps,
                eval_every=block * ep_steps,
                out=str(d),
            )
            src = dict(st.eval_curve(d, "source_success"))
            for s, succ in st.eval_curve(d):
                rows.append(
                    {
                        "replay": tag,
                        "pretrain_steps": g,
                        "checkpoint_step": step,
                        "finetune_episodes": s // ep_steps,
                        "success": succ,
                        "source_success": src.get(s),
                    }
                )
    st.write_csv(out / f"{NAME}.csv", rows)
    plt = st.plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, tag in zip(axes, ("uniform", "per")):
        for g in grid:
            r = [x for x in rows if x["replay"] == tag and x["pretrain_steps"] == g]
            (line,) = ax.plot(
                [x["finetune_episodes"] for x in r],
                [x["success"] for x in r],
                marker="o",
                ms=3,
                label=f"{g:,} pretraining steps",
            )
            ax.plot(
                [x["finetune_episodes"] for x in r], [x["source_success"] for x in r], ls=":", color=line.get_color()
            )
        ax.set_title(f"{bench} fine-tuning, {'PER' if tag == 'per' else 'uniform replay'} (dotted: pretraining skills)")
        ax.set_xlabel("fine-tuning episodes (per env)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("success on held-out skills")
    axes[0].set_ylim(-0.02, 1.02)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(out / f"{NAME}.png", dpi=110)
    for r in rows:
        if r["finetune_episodes"] in (0, episodes):
            print(r)


if __name__ == "__main__":
    main()
