"""Seed 000 Fig. 6: online fine-tuning on ML1's held-out instances vs zero-shot vs from scratch.

    python experiments/guthrie_ml1_finetune.py --preset small   # ML1/reach-v3 (2 MJX compiles; ~10-15 min CPU)
    python experiments/guthrie_ml1_finetune.py --preset full    # ML1/window-close-v3, 200k + 100k steps (~25 min CPU)

Pretrain MT-SAC on the 50 train instances (ML: goal hidden), then on 10 held-out test instances:
zero-shot (the fine-tuning run's chunk-0 evaluation), fine-tuning with one update per batched env step (seed
000), and training from scratch. x axis: total env steps (pretraining + fine-tuning), as in the paper.
Writes guthrie_ml1_finetune.csv (curve, env_steps, success) and .png.
"""

from __future__ import annotations

import _study as st

NAME = "guthrie_ml1_finetune"


def main(argv=None):
    args = st.parser(NAME, __doc__).parse_args(argv)
    out = st.out_dir(args, NAME)
    from jaxmeta.config import check_ported, preset

    if args.preset == "small":
        skill, pre, ft, every, over = "reach-v3", 40_000, 24_000, 8_000, {}
    else:
        skill, pre, ft, every, over = "window-close-v3", 200_000, 100_000, 10_000, dict(max_path_length=500)
    bench = f"ML1/{skill}"
    check_ported(bench), check_ported(bench, "test")
    test_tasks = tuple(range(10))
    st.train_run(
        preset(
            "default",
            benchmark=bench,
            total_steps=pre,
            eval_every=every,
            checkpoint_every=0,
            seed=args.seed,
            out=str(out / "pretrain"),
            **over,
        )
    )
    st.finetune_run(
        str(out / "pretrain"),
        benchmark=bench,
        task_indices=test_tasks,
        total_steps=ft,
        eval_every=every,
        out=str(out / "finetune"),
    )
    st.train_run(
        preset(
            "default",
            benchmark=bench,
            split="test",
            task_indices=test_tasks,
            total_steps=ft,
            warmup_steps=min(4_000, ft),
            eval_every=every,
            checkpoint_every=0,
            seed=args.seed,
            out=str(out / "scratch"),
            **over,
        )
    )
    rows = [
        {"curve": "pretraining (train instances)", "env_steps": x, "success": y}
        for x, y in st.eval_curve(out / "pretrain")
    ]
    fcurve = st.eval_curve(out / "finetune")
    rows += [{"curve": "zero-shot (test instances)", "env_steps": pre + x, "success": fcurve[0][1]} for x, _ in fcurve]
    rows += [{"curve": "fine-tuned (test instances)", "env_steps": pre + x, "success": y} for x, y in fcurve]
    rows += [
        {"curve": "from scratch (test instances)", "env_steps": x, "success": y}
        for x, y in st.eval_curve(out / "scratch")
    ]
    st.write_csv(out / f"{NAME}.csv", rows)
    plt = st.plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for c in dict.fromkeys(r["curve"] for r in rows):
        r = [x for x in rows if x["curve"] == c]
        ax.plot(
            [x["env_steps"] for x in r],
            [x["success"] for x in r],
            marker="o",
            ms=3,
            label=c,
            ls="--" if c.startswith("zero") else "-",
        )
    ax.set_xlabel("total env steps (pretraining + fine-tuning)")
    ax.set_ylabel("success")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{bench}: online fine-tuning (paper 000 Fig. 6)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / f"{NAME}.png", dpi=110)
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
