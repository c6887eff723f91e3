"""How many physics graphs a benchmark would need if some skills' scenes changed: the family partition
(`envs.family.partition`) with the named skills switched to the elliptic cone and / or another row-ratio
guard. Nothing is compiled and no skill module is changed: the skills' scene configs are replaced in this
process only, so a switched skill's fidelity is *not* checked here (that is `tests/envs/test_fidelity.py`).

    .venv/bin/python experiments/families_what_if.py --benchmark MT50               # today's partition
    .venv/bin/python experiments/families_what_if.py --benchmark MT50 --elliptic condim34
    .venv/bin/python experiments/families_what_if.py --benchmark MT10 --max-row-ratio 100

``--elliptic condim34`` names the pyramidal skills whose contact pairs are all condim 3 / 4, the ones MJX
could step with the elliptic cone (docs/families.md); or give a comma-separated list of skills.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import envs  # noqa: E402
from envs import family  # noqa: E402
from envs import skills as skill_registry  # noqa: E402

#: the pyramidal-cone skills whose contact pairs are all condim 3 / 4 (docs/families.md, "Solver options")
CONDIM34 = (
    "dial-turn-v3",
    "door-open-v3",
    "door-close-v3",
    "faucet-open-v3",
    "faucet-close-v3",
    "lever-pull-v3",
    "plate-slide-v3",
    "plate-slide-side-v3",
    "plate-slide-back-v3",
    "plate-slide-back-side-v3",
    "push-back-v3",
    "reach-wall-v3",
)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--benchmark", default="MT50", help="an envs.benchmark name (its train skills)")
    p.add_argument("--elliptic", default="", help="'condim34' or comma-separated skills to switch to elliptic")
    p.add_argument("--max-row-ratio", type=float, default=family.MAX_ROW_RATIO)
    a = p.parse_args(argv)
    skills = tuple(envs.benchmark(a.benchmark).train_skills)
    switch = set(CONDIM34 if a.elliptic == "condim34" else (s for s in a.elliptic.split(",") if s))
    unknown = sorted(switch - set(skills))
    if unknown:
        p.error(f"--elliptic names skills outside {a.benchmark}'s train skills: {unknown}")
    stock = skill_registry.get_skill

    @functools.lru_cache(maxsize=None)
    def get_skill(name):
        k = stock(name)
        return dataclasses.replace(k, scene=dataclasses.replace(k.scene, cone="elliptic")) if name in switch else k

    skill_registry.get_skill = get_skill  # family.template / constraint_rows import it at call time
    t = time.perf_counter()
    fams = family.partition(skills, max_row_ratio=a.max_row_ratio)
    print(
        f"{a.benchmark}: {len(fams)} physics graphs (elliptic: {sorted(switch) or 'none switched'}; "
        f"max_row_ratio {a.max_row_ratio}; {time.perf_counter() - t:.0f} s)"
    )
    for f in fams:
        print("  " + ", ".join(f))


if __name__ == "__main__":
    main()
