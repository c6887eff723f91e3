"""Paper 001: multi-task pretraining + fine-tuning vs Reptile pretraining + fine-tuning vs training from
scratch, on held-out tasks (success on the new tasks vs fine-tuning env steps), beside the meta-RL methods
that adapt without gradient steps: PEARL and RL2, meta-trained on the train tasks and meta-tested on the
held-out ones (`jaxmeta.meta_test`: trials of episodes of one task; the success of a trial's last episode,
after ``E - 1`` episodes of the task; drawn at that many env steps per task).

    python experiments/mandi_finetune_vs_reptile.py --preset small             # toy/2 -> 2 new toy skills, CPU minutes
    python experiments/mandi_finetune_vs_reptile.py --preset ml1 --seeds 3     # ML1/reach-v3, the 2-core CPU in ~1.5 h
    python experiments/mandi_finetune_vs_reptile.py --preset full --seeds 3    # ML10 (10 train -> 5 test skills), GPU
    python experiments/mandi_finetune_vs_reptile.py --methods pearl,rl2 ...    # a subset (same --out: reused)

Presets:
- ``ml1``: ML1/reach-v3, goal hidden: the 50 train tasks -> the held-out test tasks (paper 001's "variation"
  regime). 200-step episodes for every method. Pretraining (MT-SAC, Reptile): the ``default`` preset for
  100k env steps; fine-tuning and scratch: seed i adapts to test task i alone (one goal) for 40k env steps
  at the pretraining's update ratio, evaluated every 8k (10 episodes). PEARL (240k env steps) and RL2
  (307k): their presets; meta-test on all 50 test tasks, 100 trials per seed.
- ``full``: ML10 (all fifteen skills ported); pretraining / meta-training 2M env steps per method,
  fine-tuning on the 5 test skills 500k env steps, metaworld episode length 500.

Seeds: ``--seeds N`` pretrains / meta-trains N seeds vmapped in one program (seed i = fold_in(seed, i)),
then fine-tunes each seed's pretrained agent in its own run (``finetune-<method>/seed<i>``), and runs N
scratch runs. Writes mandi_finetune_vs_reptile.csv (method, seed, env_steps, success) and .png (mean over
seeds, min-max shaded; meta-test: mean with the seeds' range as an error bar); re-running with the same
--out reuses every finished run.
"""

from __future__ import annotations

import json

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


def meta_rl_configs(preset_name: str, bench: str, steps: int, seed: int, seeds: int) -> dict:
    """The PEARL and RL2 meta-training configs of the study (their presets, at the study's scale)."""
    from jaxmeta.config import preset

    run = dict(benchmark=bench, seed=seed, num_seeds=seeds)
    if preset_name == "small":
        toy = dict(run, max_path_length=20, total_steps=steps, eval_episodes=10, checkpoint_every=0)
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
    if preset_name == "ml1":  # the presets (ML1/reach-v3, 200-step episodes), shorter
        ml1 = dict(run, eval_episodes=20, checkpoint_every=0)
        return {
            "pearl": preset("pearl", **ml1, total_steps=240_000, eval_every=80_000),
            "rl2": preset("rl2", **ml1, total_steps=307_200, eval_every=102_400),
        }
    full = dict(run, max_path_length=500, total_steps=steps, eval_every=200_000, eval_episodes=10)
    return {
        "pearl": preset("pearl", **full, envs_per_skill=4, checkpoint_every=500_000),
        "rl2": preset("rl2", **full, envs_per_skill=8, checkpoint_every=500_000),
    }


def plan(preset_name: str) -> dict:
    """The study's scale: benchmark, the SAC recipe shared by pretraining / scratch (``common``), budgets,
    Reptile's options, and which test tasks seed i adapts to (``tasks(i)``; None = every test task)."""
    from jaxmeta.config import PRESETS, check_ported

    if preset_name == "small":
        return dict(
            bench="toy/2",
            common=dict(st.TOY_SMALL, eval_every=10_000),
            pre_steps=40_000,
            ft_steps=16_000,
            ft_every=2_000,
            reptile=dict(inner_steps=4, meta_batch=2, outer_lr=0.5),
            rep_ratio=dict(updates_per_step=1, steps_per_update=2),  # 1 outer step = 2 x 4 SAC updates
            tasks=lambda i: None,
        )
    if preset_name == "ml1":
        bench = "ML1/reach-v3"
        check_ported(bench), check_ported(bench, "test")
        d = PRESETS["default"]  # 8 envs, 200-step episodes, 2 updates of 128 per batched step, 2x256, lr 1e-3
        return dict(
            bench=bench,
            common=dict(
                envs_per_skill=d.envs_per_skill,
                max_path_length=d.max_path_length,
                warmup_steps=d.warmup_steps,
                chunk_steps=d.chunk_steps,
                batch_size=d.batch_size,
                buffer_capacity=d.buffer_capacity,
                updates_per_step=d.updates_per_step,
                eval_every=20_000,
                eval_episodes=10,
                checkpoint_every=0,
            ),
            pre_steps=100_000,
            ft_steps=40_000,
            ft_every=8_000,
            reptile=dict(inner_steps=4, meta_batch=2, outer_lr=0.5),
            rep_ratio=dict(updates_per_step=1, steps_per_update=2),
            tasks=lambda i: (i,),  # seed i adapts to held-out task i (one hidden goal)
        )
    bench = "ML10"
    check_ported(bench), check_ported(bench, "test")
    return dict(
        bench=bench,
        common=dict(
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
        ),
        pre_steps=2_000_000,
        ft_steps=500_000,
        ft_every=50_000,
        reptile=dict(inner_steps=10, meta_batch=5, outer_lr=0.1),
        rep_ratio=dict(updates_per_step=1, steps_per_update=10),
        tasks=lambda i: None,
    )


#: meta-tests of PEARL / RL2 (how their policy acts, file in the run directory): the mean, and samples of
#: the policy (RL2 explores within a trial by sampling, as it trained)
META_TESTS = (("mean", "meta_test.json"), ("sample", "meta_test_sampled.json"))


def meta_test_seeds(cfg, seeds: int, seed: int, path, how: str = "mean") -> list[dict]:
    """Meta-test every seed of a PEARL / RL2 run on the held-out tasks, acting with the policy's mean or
    samples (`how`; cached in `path`)."""
    if path.is_file():
        return json.loads(path.read_text())
    from jaxmeta.checkpoint import restore_policy
    from jaxmeta.meta_test import meta_test

    trials = 100 if cfg.benchmark.startswith("ML1/") else None
    adapt = cfg.eval_episode_steps - cfg.max_path_length  # env steps of the task before the counted episode
    rows = []
    for i in range(seeds):
        ev = meta_test(restore_policy(cfg.out, seed_index=i), cfg, split="test", trials=trials, seed=seed + i, how=how)
        rows.append({"seed": i, "env_steps": adapt, "success": float(ev["success"])})
    path.write_text(json.dumps(rows, indent=1))
    return rows


def main(argv=None):
    p = st.parser(NAME, __doc__, presets=("small", "ml1", "full"))
    p.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}")
    p.add_argument("--seeds", type=int, default=1, help="seeds per method (pretraining vmaps them)")
    args = p.parse_args(argv)
    methods = tuple(m for m in args.methods.split(",") if m)
    bad = [m for m in methods if m not in METHODS]
    if bad:
        p.error(f"unknown method(s) {bad}; methods: {','.join(METHODS)}")
    if args.seeds < 1:
        p.error(f"--seeds must be >= 1, got {args.seeds}")
    S = args.seeds
    out = st.out_dir(args, NAME)
    from jaxmeta.config import TrainConfig

    pl = plan(args.preset)
    bench, common = pl["bench"], pl["common"]
    for method in [m for m in ("mtsac", "reptile") if m in methods]:
        kw = dict(
            common,
            benchmark=bench,
            algo=method,
            total_steps=pl["pre_steps"],
            seed=args.seed,
            num_seeds=S,
            out=str(out / f"pretrain-{method}"),
        )
        if method == "reptile":
            kw.update(pl["rep_ratio"], reptile=pl["reptile"])
        st.train_run(TrainConfig(**kw))
        for i in range(S):
            st.finetune_run(
                str(out / f"pretrain-{method}"),
                benchmark=bench,
                split="test",
                task_indices=pl["tasks"](i),
                seed_index=i,
                seed=args.seed + i,
                updates_per_step=common["updates_per_step"],  # scratch's (and the pretraining's) update ratio
                total_steps=pl["ft_steps"],
                eval_every=pl["ft_every"],
                out=str(out / f"finetune-{method}" / f"seed{i}"),
            )
    if "scratch" in methods:
        for i in range(S):
            st.train_run(
                TrainConfig(
                    **dict(
                        common,
                        benchmark=bench,
                        split="test",
                        task_indices=pl["tasks"](i),
                        total_steps=pl["ft_steps"],
                        eval_every=pl["ft_every"],
                        warmup_steps=min(common["warmup_steps"], pl["ft_steps"]),
                        seed=args.seed + i,
                        out=str(out / "scratch" / f"seed{i}"),
                    )
                )
            )
    for method, cfg in meta_rl_configs(args.preset, bench, pl["pre_steps"], args.seed, S).items():
        if method in methods:
            cfg = cfg.replace(out=str(out / f"meta-{method}"))
            st.train_run(cfg)
            for how, name in META_TESTS:
                meta_test_seeds(cfg, S, args.seed, out / f"meta-{method}" / name, how=how)
    report(out, bench)


def report(out, bench: str):
    """CSV, PNG and a printed table of every method whose runs are in `out` (finished or not)."""
    import numpy as np

    rows, curves, meta = [], {}, {}
    for m, sub in (("mtsac", "finetune-mtsac"), ("reptile", "finetune-reptile"), ("scratch", "scratch")):
        for d in sorted((out / sub).glob("seed*")):
            if (d / "metrics.csv").is_file():
                i = int(d.name[4:])
                rs = [dict(r, seed=i) for r in st.eval_rows(d)]
                curves.setdefault(LABELS[m], []).extend(rs)
                rows += [
                    {"method": LABELS[m], "seed": i, "env_steps": r["env_steps"], "success": r["success"]} for r in rs
                ]
    for m in ("pearl", "rl2"):
        for how, name in META_TESTS:
            f = out / f"meta-{m}" / name
            if f.is_file():
                label = LABELS[m] + ("" if how == "mean" else ", sampled actions")
                meta[label] = json.loads(f.read_text())
                rows += [{"method": label, **r} for r in meta[label]]
    st.write_csv(out / f"{NAME}.csv", rows)
    plt = st.plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, rs in curves.items():
        st.plot_seed_band(ax, rs, label)
    for label, rs in meta.items():
        ys = np.array([r["success"] for r in rs])
        x = rs[0]["env_steps"]
        err = [[ys.mean() - ys.min()], [ys.max() - ys.mean()]]
        ax.errorbar([x], [ys.mean()], yerr=err, marker="*", ms=11, ls="none", capsize=3, label=label)
    ax.set_xlabel("env steps on the held-out task(s)")
    ax.set_ylabel("success on held-out task(s)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{bench}: fine-tuning, Reptile, scratch, PEARL, RL2 (paper 001)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / f"{NAME}.png", dpi=110)

    def stat(v):
        v = np.asarray(v)
        return f"{v.mean():.2f} [{v.min():.2f}, {v.max():.2f}]"

    for label, rs in curves.items():
        by = {}
        for r in rs:
            by.setdefault(r["env_steps"], []).append(r["success"])
        steps = "  ".join(f"{x}: {stat(by[x])}" for x in sorted(by))
        print(f"{label:36s} success at env steps (0 = zero-shot) {steps}")
    for label, rs in meta.items():
        print(
            f"{label:36s} meta-test {stat([r['success'] for r in rs])}  (last episode of each trial, after "
            f"{rs[0]['env_steps']} env steps of its task)"
        )


if __name__ == "__main__":
    main()
