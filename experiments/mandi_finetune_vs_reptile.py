"""Paper 001 on ML10: multi-task pretraining + fine-tuning vs Reptile pretraining + fine-tuning vs training
from scratch, on held-out skills (success on the new skills vs fine-tuning env steps), beside the meta-RL
methods that adapt without gradient steps: PEARL and RL2, meta-trained on the train skills and
meta-tested on the held-out ones (`jaxmeta.meta_test`: trials of episodes of one task; the success of a
trial's last episode, after ``E - 1`` episodes of the task; drawn at that many env steps per task).

    python experiments/mandi_finetune_vs_reptile.py --preset small   # toy/2 -> 2 new toy skills, CPU minutes
    python experiments/mandi_finetune_vs_reptile.py --preset full    # ML10 (10 train -> 5 test skills), GPU
    python experiments/mandi_finetune_vs_reptile.py --methods pearl,rl2 ...   # a subset

Full preset: ML10 (all fifteen skills ported); pretraining / meta-training 2M env steps per method,
fine-tuning 500k env steps, metaworld episode length 500. Writes mandi_finetune_vs_reptile.csv (method,
env_steps, success) and .png.
"""

from __future__ import annotations

import _study as st

NAME = "mandi_finetune_vs_reptile"


METHODS = ("mtsac", "reptile", "scratch", "pearl", "rl2")
LABELS = {
    "mtsac": "multi-task pretrain + fine-tune",
    "reptile": "Reptile pretrain + fine-tune",
    "scratch": "from scratch",
    "pearl": "PEARL (meta-test, no gradient step)",
    "rl2": "RL2 (meta-test, no gradient step)",
}


def meta_rl_configs(bench: str, small: bool, steps: int, seed: int) -> dict:
    """The PEARL and RL2 meta-training configs of the study (their presets, at the study's scale)."""
    from jaxmeta.config import preset

    if small:
        toy = dict(
            benchmark=bench, max_path_length=20, total_steps=steps, seed=seed, eval_episodes=10, checkpoint_every=0
        )
        return {
            "pearl": preset(
                "pearl",
                **toy,
                envs_per_skill=8,
                updates_per_step=4,
                warmup_steps=640,
                chunk_steps=3_200,
                eval_every=steps,
                batch_size=128,
                buffer_capacity=60_000,
                network=dict(hidden=(32, 32)),
                sac=dict(actor_lr=1e-3, critic_lr=1e-3, alpha_lr=1e-3),
                pearl=dict(meta_batch=4, context_batch=8, encoder_hidden=(16,), latent_dim=2),
            ),
            "rl2": preset(
                "rl2",
                **toy,
                envs_per_skill=16,
                steps_per_update=20,
                chunk_steps=6_400,
                eval_every=steps,
                ppo=dict(learning_rate=1e-3, num_epochs=4, num_minibatches=4),
                rl2=dict(gru=64, hidden=64),
            ),
        }
    full = dict(
        benchmark=bench, max_path_length=500, total_steps=steps, seed=seed, eval_every=200_000, eval_episodes=10
    )
    return {
        "pearl": preset("pearl", **full, envs_per_skill=4, checkpoint_every=500_000),
        "rl2": preset("rl2", **full, envs_per_skill=8, checkpoint_every=500_000),
    }


def main(argv=None):
    p = st.parser(NAME, __doc__)
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}")
    args = p.parse_args(argv)
    methods = tuple(m for m in args.methods.split(",") if m)
    bad = [m for m in methods if m not in METHODS]
    if bad:
        p.error(f"unknown method(s) {bad}; methods: {','.join(METHODS)}")
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
    for method in [m for m in ("mtsac", "reptile") if m in methods]:
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
    scratch = (
        None
        if "scratch" not in methods
        else TrainConfig(
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
    )
    if scratch is not None:
        st.train_run(scratch)
    dirs = {"mtsac": out / "finetune-mtsac", "reptile": out / "finetune-reptile", "scratch": out / "scratch"}
    curves = {LABELS[m]: d for m, d in dirs.items() if m in methods}
    for label, d in curves.items():
        for steps, succ in st.eval_curve(d):
            rows.append({"method": label, "env_steps": steps, "success": succ})
    meta = {}  # PEARL / RL2: meta-train on the train skills, meta-test on the held-out ones
    for method, cfg in meta_rl_configs(bench, args.preset == "small", pre_steps, args.seed).items():
        if method not in methods:
            continue
        from jaxmeta.checkpoint import restore_policy
        from jaxmeta.meta_test import meta_test

        cfg = cfg.replace(out=str(out / f"meta-{method}"))
        st.train_run(cfg)
        ev = meta_test(restore_policy(cfg.out), cfg, split="test", seed=args.seed)
        adapt = cfg.eval_episode_steps - cfg.max_path_length  # env steps of the task before the counted episode
        meta[LABELS[method]] = (adapt, float(ev["success"]))
        rows.append({"method": LABELS[method], "env_steps": adapt, "success": float(ev["success"])})
    st.write_csv(out / f"{NAME}.csv", rows)
    plt = st.plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label in curves:
        xs = [r["env_steps"] for r in rows if r["method"] == label]
        ys = [r["success"] for r in rows if r["method"] == label]
        ax.plot(xs, ys, marker="o", ms=3, label=label)
    for label, (x, y) in meta.items():
        ax.plot([x], [y], marker="*", ms=11, ls="none", label=label)
    ax.set_xlabel("env steps on the held-out skills")
    ax.set_ylabel("success on held-out skills")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{bench}: fine-tuning, Reptile, scratch, PEARL, RL2 (paper 001)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / f"{NAME}.png", dpi=110)
    for label, d in curves.items():
        c = st.eval_curve(d)
        print(f"{label:36s} zero-shot {c[0][1]:.2f}  final {c[-1][1]:.2f}  ({len(c)} evals)")
    for label, (x, y) in meta.items():
        print(f"{label:36s} meta-test {y:.2f}  (the last episode of each trial, after {x} env steps of its task)")


if __name__ == "__main__":
    main()
