"""Seed 000 Fig. 4: MT1 success of each skill trained on its own (success vs training env steps).

    python experiments/guthrie_mt1_per_skill.py --preset small   # MT1/reach-v3, 24k steps (~3-6 min CPU)
    python experiments/guthrie_mt1_per_skill.py --preset full    # the 10 MT10 skills, 400k steps each
    python experiments/guthrie_mt1_per_skill.py --preset full --recipe parallel16 --seeds 3 \\
        --skills push-v3,pick-place-v3 --steps 400k              # a subset, 3 vmapped seeds

One run per skill (all seeds vmapped in one program) with an evaluation every `--eval-every` env steps
(rather than paper 000's separate models per step budget). `--recipe` is the `default` preset with the
overrides of `RECIPES`. Full preset: 500-step episodes (metaworld's), so every training and evaluation
episode is 500 steps. Writes guthrie_mt1_per_skill.csv (skill, seed, env_steps, wall_s, success)
and .png (mean over seeds, shaded min-max).
"""

from __future__ import annotations

import _study as st

from jaxmeta.networks import NetworkConfig

NAME = "guthrie_mt1_per_skill"
#: `default` preset overrides per --recipe. parallel16: 16 envs, 4 updates of batch 256 per batched step
#: (replay ratio 1/4), 8k warm-up env steps; parallel16-r1: the same at replay ratio 1 (16 updates per step);
#: parallel16-ln: parallel16 with LayerNorm in the critic's hidden layers (RLPD / BRO critics);
#: parallel16-ln-n3: parallel16-ln storing 3-step returns (`--n-step 3`; FastTD3, Seo et al. 2025).
_PARALLEL16 = dict(envs_per_skill=16, updates_per_step=4, batch_size=256, warmup_steps=8_000, buffer_capacity=400_000)
_LN_CRITIC = NetworkConfig(hidden=(256, 256), layer_norm="critic")
RECIPES = {
    "default": {},
    "parallel16": _PARALLEL16,
    "parallel16-r1": {**_PARALLEL16, "updates_per_step": 16},
    "parallel16-ln": {**_PARALLEL16, "network": _LN_CRITIC},
    "parallel16-ln-n3": {**_PARALLEL16, "network": _LN_CRITIC, "n_step": 3},
}


def main(argv=None):
    p = st.parser(NAME, __doc__)
    p.add_argument("--recipe", choices=sorted(RECIPES), default="default")
    p.add_argument("--seeds", type=int, default=1, help="seeds vmapped in each skill's run")
    p.add_argument("--skills", help="comma-separated skills (default: reach-v3 small, the MT10 skills full)")
    p.add_argument("--steps", help="env steps per seed, e.g. 400k (default: 24k small, 400k full)")
    p.add_argument("--eval-every", type=int, help="env steps between evaluations")
    p.add_argument("--eval-episodes", type=int, default=10, help="evaluation episodes per seed")
    args = p.parse_args(argv)
    from envs.benchmarks import MT10_SKILLS
    from jaxmeta.cli import _count as parse_steps
    from jaxmeta.config import check_ported, preset

    if args.preset == "small":
        skills, over = ("reach-v3",), dict(total_steps=24_000, eval_every=8_000)
    else:
        skills, over = MT10_SKILLS, dict(total_steps=400_000, eval_every=40_000, max_path_length=500)
    if args.skills:
        skills = tuple(s.strip() for s in args.skills.split(",") if s.strip())
    if args.steps:
        over["total_steps"] = parse_steps(args.steps)
    if args.eval_every is not None:
        over["eval_every"] = args.eval_every
    over.update(RECIPES[args.recipe])
    cfgs = []
    for s in skills:  # every config is built (and validated) before the first compile
        check_ported(f"MT1/{s}")
        cfgs.append(
            preset(
                "default",
                benchmark=f"MT1/{s}",
                seed=args.seed,
                num_seeds=args.seeds,
                checkpoint_every=0,
                eval_episodes=args.eval_episodes,
                **over,
            )
        )
    out = st.out_dir(args, NAME)
    rows = []
    for s, cfg in zip(skills, cfgs):
        d = out / s
        st.train_run(cfg.replace(out=str(d)))
        rows += [{"skill": s, **r} for r in st.eval_rows(d)]
        st.write_csv(out / f"{NAME}.csv", rows)  # after every skill: a long study keeps what it has
    plt = st.plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for s in skills:
        st.plot_seed_band(ax, [r for r in rows if r["skill"] == s], label=s)
    ax.set_xlabel("training env steps (per seed)")
    ax.set_ylabel(f"eval success (MT1, {args.seeds} seed(s))")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"MT1 per skill (paper 000 Fig. 4), recipe {args.recipe}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / f"{NAME}.png", dpi=110)
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
