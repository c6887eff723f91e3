"""How many physics graphs a benchmark would need if some skills' scenes changed: the family partition
(`envs.family.partition`) with the named skills switched to the elliptic cone, another row-ratio guard, and / or
looser joint rules. Nothing is compiled and no skill module is changed: the skills' scene configs are replaced in this
process only, so a switched skill's fidelity is *not* checked here (that is `tests/envs/test_fidelity.py`).

    .venv/bin/python experiments/families_what_if.py --benchmark MT50               # today's partition
    .venv/bin/python experiments/families_what_if.py --benchmark MT50 --elliptic condim34
    .venv/bin/python experiments/families_what_if.py --benchmark MT10 --max-row-ratio 100

``--elliptic condim34`` names the pyramidal skills whose contact pairs are all condim 3 / 4, the ones MJX
could step with the elliptic cone (docs/families.md); or give a comma-separated list of skills.

``--joints``: ``padded`` (the default, `envs.family.partition`): moving bodies that differ get slots of their
own, the other members carry dummies there; ``strict``: the rule before joint padding, moving bodies line up
with equal joints (`pad_joints=False`). Two structure-only bounds, without the row guard (their padded rows are
not counted): ``one-sided``: strict, but a moving body present in some members only is allowed; ``any``:
bodies at one slot may differ in their joints.

    .venv/bin/python experiments/families_what_if.py --benchmark MT50 --joints strict --elliptic condim34
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

#: the pyramidal-cone skills whose contact pairs are all condim 3 / 4 (docs/families.md, "Solver options"; dial-turn,
#: the twelfth, has been elliptic since 2026-12-07)
CONDIM34 = (
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


def _loose_merge(any_joints: bool):
    """`envs.family.merge` without the joint rules: one-sided moving bodies kept; with any_joints, differing
    joints at one slot too (the structure keeps the longer joint list: only the count of families matters)."""
    from envs.family import FamilyError, Node, _merge_counts, _moving, _pad

    def merge(a, b, where="world", lower_a=False, lower_b=False):
        if lower_a and _moving(a) and not _moving(b) and b.movable:
            return merge(_pad(a), b, where, lower_b=lower_b)
        if lower_b and _moving(b) and not _moving(a) and a.movable:
            return merge(a, _pad(b), where, lower_a=lower_a)
        if not any_joints and (a.joints != b.joints or a.mocap != b.mocap):
            raise FamilyError(f"body slot {where}: joints {a.joints} / mocap {a.mocap} vs {b.joints} / {b.mocap}")
        kids = []
        for k in range(max(len(a.children), len(b.children))):
            ca = a.children[k] if k < len(a.children) else None
            cb = b.children[k] if k < len(b.children) else None
            if ca is not None and cb is not None:
                kids.append(merge(ca, cb, f"{where}/{k}", k == len(a.children) - 1, k == len(b.children) - 1))
            else:
                kids.append(ca if ca is not None else cb)
        joints = max(a.joints, b.joints, key=len)
        return Node(
            joints, a.mocap or b.mocap, _merge_counts(a.geoms, b.geoms), _merge_counts(a.sites, b.sites), tuple(kids)
        )

    return merge


def _structure_compatible(merge):
    """`envs.family.compatible` on structure and solver options only (no contact-pair embedding)."""
    from envs.family import FamilyError, _options, _stock, member_tree

    def compatible(skills, pad_joints=False) -> bool:
        tree, opt0 = None, None
        try:
            for s in skills:
                _, model = _stock(skill_registry.get_skill(s).scene)
                opt = _options(model)
                if opt0 is not None and opt != opt0:
                    return False
                opt0, t = opt, member_tree(model)
                tree = t if tree is None else merge(tree, t)
        except FamilyError:
            return False
        return True

    return compatible


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--benchmark", default="MT50", help="an envs.benchmark name (its train skills)")
    p.add_argument("--elliptic", default="", help="'condim34' or comma-separated skills to switch to elliptic")
    p.add_argument("--max-row-ratio", type=float, default=family.MAX_ROW_RATIO)
    p.add_argument("--joints", choices=("padded", "strict", "one-sided", "any"), default="padded", help="(above)")
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
    guard = f"max_row_ratio {a.max_row_ratio}"
    if a.joints in ("one-sided", "any"):
        family.compatible = _structure_compatible(_loose_merge(a.joints == "any"))
        own_rows = family.constraint_rows
        family.constraint_rows = lambda s, fam=None: own_rows(s) if fam is None else 0
        guard = "no row guard: dummy joints' rows cannot be counted"
    t = time.perf_counter()
    fams = family.partition(skills, max_row_ratio=a.max_row_ratio, pad_joints=a.joints == "padded")
    print(
        f"{a.benchmark}: {len(fams)} physics graphs (elliptic: {sorted(switch) or 'none switched'}; "
        f"joints {a.joints}; {guard}; {time.perf_counter() - t:.0f} s)"
    )
    for f in fams:
        print("  " + ", ".join(f))


if __name__ == "__main__":
    main()
