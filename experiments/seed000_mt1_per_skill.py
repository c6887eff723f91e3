"""Seed 000 Fig. 4: MT1 success of each skill trained on its own (success vs training env steps).

    python experiments/seed000_mt1_per_skill.py --preset small   # MT1/reach-v3, 24k steps (~3-6 min CPU)
    python experiments/seed000_mt1_per_skill.py --preset full    # the 10 MT10 skills, 400k steps each (GPU)

One run per skill with an evaluation every `eval_every` env steps (rather than seed 000's separate
models per step budget). Full preset: all ten MT10 skills must be ported to MJX.
Writes seed000_mt1_per_skill.csv (skill, env_steps, success) and .png.
"""
from __future__ import annotations

import _study as st

NAME = "seed000_mt1_per_skill"


def main(argv=None):
    args = st.parser(NAME, __doc__).parse_args(argv)
    out = st.out_dir(args, NAME)
    from envs.benchmarks import MT10_SKILLS
    from jaxmeta.config import check_ported, preset

    if args.preset == "small":
        skills, over = ("reach-v3",), dict(total_steps=24_000, eval_every=8_000)
    else:
        skills, over = MT10_SKILLS, dict(total_steps=400_000, eval_every=40_000, max_path_length=500)
    for s in skills:
        check_ported(f"MT1/{s}")
    rows = []
    for s in skills:
        d = out / s
        st.train_run(preset("default", benchmark=f"MT1/{s}", seed=args.seed, checkpoint_every=0, out=str(d), **over))
        rows += [{"skill": s, "env_steps": x, "success": y} for x, y in st.eval_curve(d)]
    st.write_csv(out / f"{NAME}.csv", rows)
    plt = st.plt()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for s in skills:
        r = [x for x in rows if x["skill"] == s]
        ax.plot([x["env_steps"] for x in r], [x["success"] for x in r], marker="o", ms=3, label=s)
    ax.set_xlabel("training env steps")
    ax.set_ylabel("success (MT1, seen tasks)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("MT1 per skill (seed 000 Fig. 4)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / f"{NAME}.png", dpi=110)
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()
