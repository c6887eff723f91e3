"""Seed 000 Fig. 5: skills trained jointly (one MT-SAC with one-hot skill ids) vs individually (MT1).

    python experiments/guthrie_mt10_joint_vs_individual.py --preset small   # toy: 2 skills, ~2 min CPU
    python experiments/guthrie_mt10_joint_vs_individual.py --preset full    # MT10 vs MT1/<skill> (GPU)

Small preset: joint = toy/2 (toy-0, toy-1); individual = toy/1 (toy-0) and toy/1's test split (toy-1,
the same skill and goals as in toy/2). x axis: env steps *per skill* (a joint run's steps / #skills), so
both modes are compared at equal data per skill. Full preset: every MT10 skill ported to MJX.
Writes guthrie_mt10_joint_vs_individual.csv (mode, skill, env_steps_per_skill, success) and .png.
"""

from __future__ import annotations

import _study as st

NAME = "guthrie_mt10_joint_vs_individual"


def main(argv=None):
    args = st.parser(NAME, __doc__).parse_args(argv)
    out = st.out_dir(args, NAME)
    from envs.benchmarks import MT10_SKILLS
    from jaxmeta.config import TrainConfig, check_ported

    if args.preset == "small":
        common = dict(st.TOY_SMALL, eval_every=4_000)
        joint = dict(benchmark="toy/2", total_steps=60_000)
        singles = {
            "toy-0": dict(benchmark="toy/1", total_steps=30_000),
            "toy-1": dict(benchmark="toy/1", split="test", total_steps=30_000),
        }
    else:
        common = dict(
            max_path_length=500,
            envs_per_skill=1,
            eval_every=100_000,
            checkpoint_every=0,
            network=dict(hidden=(400, 400, 400)),
            batch_size=1280,
            buffer_capacity=1_000_000,
        )
        joint = dict(benchmark="MT10", total_steps=4_000_000)
        singles = {s: dict(benchmark=f"MT1/{s}", total_steps=400_000) for s in MT10_SKILLS}
        check_ported("MT10")
    rows = []
    st.train_run(TrainConfig(**common, **joint, seed=args.seed, out=str(out / "joint")))
    skills = list(singles)
    for s in skills:
        for x, y in st.eval_curve(out / "joint", f"eval_success/{s}"):
            rows.append({"mode": "joint", "skill": s, "env_steps_per_skill": x // len(skills), "success": y})
    for s, kw in singles.items():
        st.train_run(TrainConfig(**common, **kw, seed=args.seed, out=str(out / f"single-{s}")))
        for x, y in st.eval_curve(out / f"single-{s}", f"eval_success/{s}"):
            rows.append({"mode": "individual", "skill": s, "env_steps_per_skill": x, "success": y})
    st.write_csv(out / f"{NAME}.csv", rows)
    plt = st.plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, s in enumerate(skills):
        for mode, ls in (("joint", "-"), ("individual", "--")):
            r = [x for x in rows if x["mode"] == mode and x["skill"] == s]
            ax.plot(
                [x["env_steps_per_skill"] for x in r],
                [x["success"] for x in r],
                ls=ls,
                color=f"C{i}",
                label=f"{s} {mode}",
            )
    ax.set_xlabel("env steps per skill")
    ax.set_ylabel("success")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("joint (MT) vs individual (MT1) training (paper 000 Fig. 5)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / f"{NAME}.png", dpi=110)


if __name__ == "__main__":
    main()
