"""Seed 001 on ML10: multi-task pretraining + fine-tuning vs Reptile pretraining + fine-tuning vs training
from scratch, on held-out skills (success on the new skills vs fine-tuning env steps).

    python experiments/mandi_finetune_vs_reptile.py --preset small   # toy/2 -> 2 new toy skills, ~3 min CPU
    python experiments/mandi_finetune_vs_reptile.py --preset full    # ML10 (10 train -> 5 test skills), GPU

Full preset: ML10 (all fifteen skills ported);
pretraining 2M env steps per method, fine-tuning 500k env steps, metaworld episode length 500.
Writes mandi_finetune_vs_reptile.csv (method, env_steps, success) and .png.
"""

from __future__ import annotations

import _study as st

NAME = "mandi_finetune_vs_reptile"


def main(argv=None):
    args = st.parser(NAME, __doc__).parse_args(argv)
    out = st.out_dir(args, NAME)
    from jaxmeta.config import TrainConfig, check_ported

    if args.preset == "small":
        bench, common = "toy/2", dict(st.TOY_SMALL, eval_every=10_000)
        pre_steps, ft_steps, ft_every = 40_000, 16_000, 2_000
        reptile = dict(inner_steps=4, meta_batch=2, outer_lr=0.5)
        rep_ratio = dict(updates_per_step=1, steps_per_update=2)  # 1 outer step = 2 x 4 SAC updates
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
            eval_every=200_000,
            eval_episodes=10,
            checkpoint_every=500_000,
            network=dict(hidden=(400, 400, 400)),
            sac=dict(actor_lr=3e-4, critic_lr=3e-4, alpha_lr=3e-4, discount=0.99),
        )
        pre_steps, ft_steps, ft_every = 2_000_000, 500_000, 50_000
        reptile = dict(inner_steps=10, meta_batch=5, outer_lr=0.1)
        rep_ratio = dict(updates_per_step=1, steps_per_update=10)
    rows = []
    runs = {}
    for method in ("mtsac", "reptile"):
        kw = dict(
            common,
            benchmark=bench,
            algo=method,
            total_steps=pre_steps,
            seed=args.seed,
            out=str(out / f"pretrain-{method}"),
        )
        if method == "reptile":
            kw.update(rep_ratio, reptile=reptile)
        st.train_run(TrainConfig(**kw))
        runs[method] = st.finetune_run(
            str(out / f"pretrain-{method}"),
            benchmark=bench,
            split="test",
            total_steps=ft_steps,
            eval_every=ft_every,
            out=str(out / f"finetune-{method}"),
        )
    scratch = TrainConfig(
        **dict(
            common,
            benchmark=bench,
            split="test",
            total_steps=ft_steps,
            eval_every=ft_every,
            warmup_steps=min(common["warmup_steps"], ft_steps),
            seed=args.seed,
            out=str(out / "scratch"),
        )
    )
    st.train_run(scratch)
    curves = {
        "multi-task pretrain + fine-tune": out / "finetune-mtsac",
        "Reptile pretrain + fine-tune": out / "finetune-reptile",
        "from scratch": out / "scratch",
    }
    for label, d in curves.items():
        for steps, succ in st.eval_curve(d):
            rows.append({"method": label, "env_steps": steps, "success": succ})
    st.write_csv(out / f"{NAME}.csv", rows)
    plt = st.plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label in curves:
        xs = [r["env_steps"] for r in rows if r["method"] == label]
        ys = [r["success"] for r in rows if r["method"] == label]
        ax.plot(xs, ys, marker="o", ms=3, label=label)
    ax.set_xlabel("env steps on the held-out skills")
    ax.set_ylabel("success on held-out skills")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{bench}: fine-tuning vs Reptile vs scratch (paper 001)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / f"{NAME}.png", dpi=110)
    for label, d in curves.items():
        c = st.eval_curve(d)
        print(f"{label:34s} zero-shot {c[0][1]:.2f}  final {c[-1][1]:.2f}  ({len(c)} evals)")


if __name__ == "__main__":
    main()
