"""Physics families: skills padded to one scene template, so one compiled physics graph steps them all.

MJX compiles a physics graph per model *structure* (body tree and joints, geom and site types per body,
contact pairs and their condim, solver options); sizes, poses, masses and contact parameters are traced
arrays that may differ per instance. `template` aligns the structures of several skills and `padded_model`
builds one skill's scene in the family's structure:

* lean scene: geoms that neither collide (no contact pair) nor carry a name (metaworld's visual meshes) are
  dropped, named non-colliding geoms become small marker spheres at their compiled pose (their frames are
  what skills read), body inertias are frozen to the stock compiled values, cameras, lights and meshes
  are dropped. The dynamics are the stock scene's: visual geoms have contype = conaffinity = 0 here.
* bodies align by position in the tree (child k of a body with child k of the same body in every member);
  where a member has no body at a slot it gets a massless, joint-less dummy body; a moving body one level
  shallower than its counterpart (a last child) is lowered under an identity-pose pad body (poses stay
  relative to one frame).
* joint padding (`pad_joints`, the default): a moving body whose joints differ from its counterpart's takes
  a slot of its own after the positional ones, and a moving body present in some members only is kept; the
  members without it carry a dummy there (light, damped, no active contact: it stays at rest, decoupled from
  their own degrees of freedom), their bodies re-attached in slot order. `joint_maps` says where the
  skill's own qpos / dofs (metaworld's layout) sit in the padded model. Mocap bodies must coincide.
* geoms and sites align per body and per type (a member's k-th box of a body sits in the k-th box slot);
  missing slots get dummy primitives (massless, 1 m above the body, apart from each other).
* contact pairs are the union over members of (geom slot, geom slot, condim); a member's own pairs keep
  their parameters, the others get `DUMMY_MARGIN`: their contacts have distance - margin > 0, so MJX's
  constraint rows are inactive (zero Jacobian and force) whatever the geometry: the member's dynamics are
  its own scene's, exactly.

The padded models of a family differ only in traced fields (`envs.multitask.model_difference`), so the
multi-task env steps them in one vmapped physics call with those fields passed per instance.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Sequence

import mujoco
import numpy as np

from envs.scene import METAWORLD_WELD_DATA, SceneConfig, build_spec

#: Contact margin of a member's padding pairs: MJX's contact row is active where dist < margin.
DUMMY_MARGIN = -1.0e4
#: Size of every site in a lean scene (site sizes only draw; equal sizes keep the structures equal).
SITE_SIZE = (0.005, 0.005, 0.005)
_MARKER_SIZE = (0.005, 0.0, 0.0)
_DUMMY_SIZE = {
    int(mujoco.mjtGeom.mjGEOM_PLANE): (1.0, 1.0, 0.01),
    int(mujoco.mjtGeom.mjGEOM_SPHERE): (0.01, 0.0, 0.0),
    int(mujoco.mjtGeom.mjGEOM_CAPSULE): (0.01, 0.01, 0.0),
    int(mujoco.mjtGeom.mjGEOM_CYLINDER): (0.01, 0.01, 0.0),
    int(mujoco.mjtGeom.mjGEOM_BOX): (0.01, 0.01, 0.01),
    int(mujoco.mjtGeom.mjGEOM_ELLIPSOID): (0.01, 0.01, 0.01),
}
_SPHERE = int(mujoco.mjtGeom.mjGEOM_SPHERE)


class FamilyError(ValueError):
    """The skills' scenes cannot share one structure (the message names the skills and the conflict)."""


@dataclasses.dataclass(frozen=True)
class Node:
    """One body slot of a (member or template) tree.

    joints: per joint (type, limited, has frictionloss); mocap: the body is a mocap body.
    geoms / sites: per geom / site type, how many slots. children: child slots in order.
    simple: a body with joints whose inertia frame is its own (MuJoCo's `body_simple`: it sets the sparsity of
    the mass matrix, hence the compiled graph).
    """

    joints: tuple[tuple[int, bool, bool], ...]
    mocap: bool
    geoms: tuple[tuple[int, int], ...]
    sites: tuple[tuple[int, int], ...]
    children: tuple["Node", ...]
    simple: bool = False

    @property
    def movable(self) -> bool:
        return bool(self.joints) or self.mocap or any(c.movable for c in self.children)


# --- a member's lean structure ------------------------------------------------------------------------------


def _children(model: mujoco.MjModel) -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {b: [] for b in range(model.nbody)}
    for b in range(1, model.nbody):
        kids[int(model.body_parentid[b])].append(b)
    return kids


def _name(model, obj, i) -> str:
    return mujoco.mj_id2name(model, obj, i) or ""


def _kept_geoms(model: mujoco.MjModel):
    """Per body, the geoms a lean scene keeps (in pairs, or named), ordered by (slot type, id); and the slot type
    of a kept geom (its own type if it collides, else a marker sphere)."""
    paired = set(int(g) for g in model.pair_geom1) | set(int(g) for g in model.pair_geom2)
    per_body: dict[int, list[int]] = {b: [] for b in range(model.nbody)}
    for g in range(model.ngeom):
        if g in paired or _name(model, mujoco.mjtObj.mjOBJ_GEOM, g):
            per_body[int(model.geom_bodyid[g])].append(g)
    paired_type = lambda g: int(model.geom_type[g]) if g in paired else _SPHERE  # noqa: E731
    return {b: sorted(gs, key=lambda g: (paired_type(g), g)) for b, gs in per_body.items()}, paired_type


def _counts(types: Sequence[int]) -> tuple[tuple[int, int], ...]:
    out: dict[int, int] = {}
    for t in types:
        out[t] = out.get(t, 0) + 1
    return tuple(sorted(out.items()))


def member_tree(model: mujoco.MjModel) -> Node:
    """The lean structure of a compiled scene (`build_spec(cfg).compile()`)."""
    kids = _children(model)
    kept, gtype = _kept_geoms(model)

    def node(b: int) -> Node:
        joints = tuple(
            (int(model.jnt_type[j]), bool(model.jnt_limited[j]), bool(model.dof_frictionloss[model.jnt_dofadr[j]] > 0))
            for j in range(model.body_jntadr[b], model.body_jntadr[b] + model.body_jntnum[b])
        )
        sites = [int(model.site_type[s]) for s in range(model.nsite) if model.site_bodyid[s] == b]
        return Node(
            joints=joints,
            mocap=bool(model.body_mocapid[b] >= 0),
            geoms=_counts([gtype(g) for g in kept[b]]),
            sites=_counts(sites),
            children=tuple(node(c) for c in kids[b]),
            simple=bool(joints) and bool(model.body_simple[b]),
        )

    return node(0)


def _merge_counts(a, b):
    d = dict(a)
    for t, n in b:
        d[t] = max(d.get(t, 0), n)
    return tuple(sorted(d.items()))


def _moving(n: Node) -> bool:
    return bool(n.joints) or n.mocap


def _pad(n: Node) -> Node:
    """n under an identity-pose static body (its pose and per-instance body_pos stay relative to the same frame)."""
    return Node((), False, (), (), (n,))


def _free(n: Node) -> bool:
    """n has a free joint (MuJoCo allows one on a top-level body only: it cannot be lowered under a pad)."""
    return any(j[0] == int(mujoco.mjtJoint.mjJNT_FREE) for j in n.joints)


def _has_mocap(n: Node) -> bool:
    return n.mocap or any(_has_mocap(c) for c in n.children)


def merge(
    a: Node, b: Node, where: str = "world", lower_a: bool = False, lower_b: bool = False, pad_joints: bool = False
) -> Node:
    """The smallest structure both trees embed into by position, where a moving body facing a static one that
    holds moving bodies below is lowered under an identity-pose pad body (only a last child can be: lower_a /
    lower_b); FamilyError where joints or mocap differ or a moving body has no counterpart.

    pad_joints: a child subtree that cannot merge with its counterpart (joints differ) keeps a slot of its own,
    appended after the positional ones, and a moving subtree present in one tree only is kept: the members
    without it carry a dummy copy there (`padded_model`), held still. Mocap bodies still must coincide."""
    if lower_a and _moving(a) and not _free(a) and not _moving(b) and b.movable:
        return merge(_pad(a), b, where, lower_b=lower_b, pad_joints=pad_joints)
    if lower_b and _moving(b) and not _free(b) and not _moving(a) and a.movable:
        return merge(a, _pad(b), where, lower_a=lower_a, pad_joints=pad_joints)
    if a.joints != b.joints or a.mocap != b.mocap or a.simple != b.simple:
        raise FamilyError(
            f"body slot {where}: joints {a.joints} / mocap {a.mocap} / simple {a.simple} vs {b.joints} / {b.mocap} / "
            f"{b.simple}"
        )
    children, extras = [], []
    for k in range(max(len(a.children), len(b.children))):
        ca = a.children[k] if k < len(a.children) else None
        cb = b.children[k] if k < len(b.children) else None
        if ca is not None and cb is not None:
            last_a, last_b = k == len(a.children) - 1, k == len(b.children) - 1
            try:
                children.append(merge(ca, cb, f"{where}/{k}", last_a, last_b, pad_joints))
            except FamilyError:
                if not pad_joints or _has_mocap(ca) or _has_mocap(cb):
                    raise
                children.append(ca)
                extras.append(cb)
        else:
            only = ca if ca is not None else cb
            if only.movable and (not pad_joints or _has_mocap(only)):
                raise FamilyError(f"body slot {where}/{k}: a moving body in one scene only")
            children.append(only)
    children += extras
    geoms, sites = _merge_counts(a.geoms, b.geoms), _merge_counts(a.sites, b.sites)
    return Node(a.joints, a.mocap, geoms, sites, tuple(children), a.simple)


def _fits(small, big) -> bool:
    d = dict(big)
    return all(d.get(t, 0) >= n for t, n in small)


def _embed(tn: Node, mn: Node, tpath: tuple, mpath: tuple, lower: bool, where: dict, pads: dict) -> bool:
    """Place member subtree mn in template subtree tn (mn lowered under a pad where tn is a static slot with
    moving bodies below and `lower`); fill `where` / `pads` and return True, or False (nothing filled)."""
    w, p = dict(where), dict(pads)
    if lower and _moving(mn) and not _free(mn) and not _moving(tn) and tn.movable and not tn.joints and tn.children:
        p[tpath] = mpath
        for j, tc in enumerate(tn.children):
            if _embed(tc, mn, tpath + (j,), mpath, False, w, p):
                where.update(w)
                pads.update(p)
                return True
        return False
    if (tn.joints, tn.mocap, tn.simple) != (mn.joints, mn.mocap, mn.simple):
        return False
    if not _fits(mn.geoms, tn.geoms) or not _fits(mn.sites, tn.sites):
        return False
    w[mpath] = tpath
    used: set[int] = set()
    for k, mc in enumerate(mn.children):
        last = k == len(mn.children) - 1
        order = ([k] if k < len(tn.children) else []) + [j for j in range(len(tn.children)) if j != k]
        for j in order:
            if j not in used and _embed(tn.children[j], mc, tpath + (j,), mpath + (k,), last, w, p):
                used.add(j)
                break
        else:
            return False
    where.update(w)
    pads.update(p)
    return True


def embedding(t: Node, m: Node) -> tuple[dict[tuple, tuple], dict[tuple, tuple]]:
    """Where a member tree m sits in a template t (built by `merge` with m): (member body path -> template
    slot path, template slot path of each pad body -> member path of the body it holds). Each member child takes
    its own position's slot where it fits there, else the first free slot that takes it (`merge`'s pad_joints
    slots)."""
    where: dict[tuple, tuple] = {}
    pads: dict[tuple, tuple] = {}
    if not _embed(t, m, (), (), False, where, pads):
        raise FamilyError("the scene does not embed in the template (build the template with this skill)")
    return where, pads


# --- slots --------------------------------------------------------------------------------------------------


def _member_slots(model: mujoco.MjModel) -> tuple[dict[int, tuple], dict[int, tuple]]:
    """Body id -> slot path, and kept geom id -> geom slot (body path, type, index within type)."""
    kids = _children(model)
    body_path = {0: ()}
    stack = [0]
    while stack:
        b = stack.pop()
        for k, c in enumerate(kids[b]):
            body_path[c] = body_path[b] + (k,)
            stack.append(c)
    kept, gtype = _kept_geoms(model)
    geom_slot = {}
    for b, gs in kept.items():
        seen: dict[int, int] = {}
        for g in gs:
            t = gtype(g)
            geom_slot[g] = (body_path[b], t, seen.get(t, 0))
            seen[t] = seen.get(t, 0) + 1
    return body_path, geom_slot


def _pair_slots(model: mujoco.MjModel, where: dict[tuple, tuple] | None = None) -> list[tuple]:
    """Per contact pair of the model: (geom slot, geom slot, condim), body paths mapped by `where` (an
    `embedding`) into a template's."""
    _, geom_slot = _member_slots(model)

    def slot(g):
        path, t, k = geom_slot[int(g)]
        return (where[path] if where is not None else path, t, k)

    return [(slot(model.pair_geom1[p]), slot(model.pair_geom2[p]), int(model.pair_dim[p])) for p in range(model.npair)]


@dataclasses.dataclass(frozen=True)
class Template:
    """The shared structure of a family: the merged body tree and the union of contact-pair slots."""

    skills: tuple[str, ...]
    tree: Node
    pairs: tuple[tuple, ...]


def _stock(cfg: SceneConfig) -> tuple[mujoco.MjSpec, mujoco.MjModel]:
    spec = build_spec(cfg)
    return spec, spec.compile()


@functools.lru_cache(maxsize=None)
def template(skills: tuple[str, ...], pad_joints: bool = True) -> Template:
    """The family template of these skills (FamilyError naming the skill and the conflict if they cannot share);
    pad_joints: moving bodies that differ get slots of their own (`merge`)."""
    from envs.skills import get_skill

    if not skills:
        raise ValueError("a family needs at least one skill")
    tree, opt0, members = None, None, []
    for s in skills:
        _, model = _stock(get_skill(s).scene)
        opt = _options(model)
        if opt0 is not None and opt != opt0:
            diff = {k: (opt0[k], v) for k, v in opt.items() if opt0[k] != v}
            raise FamilyError(
                f"{s} cannot join {skills[: skills.index(s)]}: solver options differ "
                f"({', '.join(f'{k} {a} vs {b}' for k, (a, b) in diff.items())})"
            )
        opt0 = opt
        t = member_tree(model)
        members.append((model, t))
        try:
            tree = t if tree is None else merge(tree, t, pad_joints=pad_joints)
        except FamilyError as e:
            raise FamilyError(f"{s} cannot join {skills[: skills.index(s)]}: {e}") from None
    pairs = set()
    for model, t in members:
        where, _ = embedding(tree, t)
        pairs.update(_pair_slots(model, where))
    return Template(skills=tuple(skills), tree=tree, pairs=tuple(sorted(pairs)))


def _options(model) -> dict:
    o = model.opt
    return dict(
        solver=mujoco.mjtSolver(o.solver).name,
        cone=mujoco.mjtCone(o.cone).name,
        iterations=int(o.iterations),
        ls_iterations=int(o.ls_iterations),
        tolerance=float(o.tolerance),
        timestep=float(o.timestep),
        integrator=int(o.integrator),
        jacobian=int(o.jacobian),
        gravity=tuple(np.asarray(o.gravity).tolist()),
        disableflags=int(o.disableflags),
    )


def compatible(skills: Sequence[str], pad_joints: bool = True) -> bool:
    """Can these skills share one template?"""
    try:
        template(tuple(skills), pad_joints)
        return True
    except FamilyError:
        return False


# --- building a member's padded scene -------------------------------------------------------------------------


def _freeze_inertia(spec: mujoco.MjSpec, model: mujoco.MjModel) -> None:
    spec.compiler.inertiafromgeom = mujoco.mjtInertiaFromGeom.mjINERTIAFROMGEOM_FALSE
    for b, body in enumerate(spec.bodies):
        if b == 0:
            continue
        body.explicitinertial = True
        body.mass = float(model.body_mass[b])
        body.ipos = model.body_ipos[b].tolist()
        body.iquat = model.body_iquat[b].tolist()
        body.inertia = model.body_inertia[b].tolist()
        body.fullinertia = [np.nan] * 6


def _add_geom(body, model, g: int | None, gtype: int, slot_index: int, name: str) -> None:
    geom = body.add_geom()
    geom.type = mujoco.mjtGeom(gtype)
    geom.contype = 0
    geom.conaffinity = 0
    geom.mass = 0.0
    geom.density = 0.0
    geom.group = 5
    if g is None:  # padding
        geom.name = name
        geom.size = list(_DUMMY_SIZE[gtype])
        geom.pos = [0.0, 0.0, 1.0 + 0.1 * slot_index]
        return
    geom.name = _name(model, mujoco.mjtObj.mjOBJ_GEOM, g)
    geom.pos = model.geom_pos[g].tolist()
    geom.quat = model.geom_quat[g].tolist()
    if gtype == _SPHERE and int(model.geom_type[g]) != _SPHERE:  # a named visual geom: a marker at its frame
        geom.size = list(_MARKER_SIZE)
        return
    _copy(
        geom,
        model,
        "geom",
        g,
        ("size", "friction", "solref", "solimp", "solmix", "condim", "margin", "gap", "priority"),
    )


def _copy(element, model: mujoco.MjModel, prefix: str, i: int, fields: Sequence[str]) -> None:
    """Set the spec element's fields to the compiled model's values (`model.<prefix>_<field>[i]`)."""
    for f in fields:
        v = getattr(model, f"{prefix}_{f}")[i]
        setattr(element, f, v.tolist() if np.ndim(v) else v.item())


def _add_site(body, model, s: int | None, stype: int, name: str) -> None:
    site = body.add_site()
    site.type = mujoco.mjtGeom(stype)
    site.size = list(SITE_SIZE)
    site.group = 5
    if s is None:  # padding
        site.name = name
        return
    site.name = _name(model, mujoco.mjtObj.mjOBJ_SITE, s)
    site.pos = model.site_pos[s].tolist()
    site.quat = model.site_quat[s].tolist()


def _static_body(parent, name: str):
    """A massless, joint-less body at the parent's frame (a dummy or a pad)."""
    body = parent.add_body()
    body.name = name
    body.explicitinertial = True
    body.mass = 0.0
    body.inertia = [0.0, 0.0, 0.0]
    return body


#: A dummy moving body (a slot another member's moving body fills): light, damped, no active contact, so it
#: stays where it starts (gravity pulls, the damping holds it near 1e-4 m/s: 5e-5 m in 200 MuJoCo steps) and its
#: degrees of freedom are decoupled from the member's own (its parent is static).
DUMMY_MASS = 1e-3
DUMMY_INERTIA = 1e-5
DUMMY_DAMPING = 100.0
DUMMY_RANGE = (-1.0, 1.0)
DUMMY_FRICTIONLOSS = 1e-3


def _dummy_body(parent, name: str, slot: Node | None = None):
    """A joint-less static body (`_static_body`), or for a moving slot a light, damped body with its joints (its
    inertia frame off the body frame where the slot is not `simple`)."""
    body = _static_body(parent, name)
    joints = slot.joints if slot is not None else ()
    if not joints:
        return body
    body.mass = DUMMY_MASS
    body.inertia = [DUMMY_INERTIA] * 3
    if not slot.simple:
        body.ipos = [1e-3, 0.0, 0.0]
    for k, (jtype, limited, friction) in enumerate(joints):
        j = body.add_joint()
        j.name = f"{name}_joint{k}"
        j.type = mujoco.mjtJoint(jtype)
        j.axis = np.eye(3)[k % 3].tolist()  # distinct axes: two dummy slides along one axis make M singular
        j.damping = [DUMMY_DAMPING, 0.0, 0.0]
        if limited:
            j.limited = mujoco.mjtLimited.mjLIMITED_TRUE
            j.range = list(DUMMY_RANGE)
        if friction:
            j.frictionloss = DUMMY_FRICTIONLOSS
    return body


_MOVED = "_family_moved"


def _strip(name: str) -> str:
    return name[: -len(_MOVED)] if name.endswith(_MOVED) else name


def _reattach(spec: mujoco.MjSpec, name: str, new_parent) -> None:
    """Move body `name` (with its subtree) to the end of `new_parent`'s children; poses, names and the
    references of actuators, equalities, exclusions and sensors to its elements stay as they were."""
    spec.copy_during_attach = True
    new_parent.add_frame().attach_body(spec.body(name), "", _MOVED)
    spec.delete(spec.body(name))
    for el in list(spec.bodies) + list(spec.joints):
        el.name = _strip(el.name)
    for a in spec.actuators:
        a.target = _strip(a.target)
    for e in spec.equalities:
        e.name1, e.name2 = _strip(e.name1), _strip(e.name2)
    for x in spec.excludes:
        x.bodyname1, x.bodyname2 = _strip(x.bodyname1), _strip(x.bodyname2)
    for sn in spec.sensors:
        sn.objname, sn.refname = _strip(sn.objname), _strip(sn.refname)


def _move_under(spec: mujoco.MjSpec, name: str, parent, pad) -> None:
    """Move body `name` (the last child of `parent`, with its subtree) under `pad` (the new last child of
    `parent`, identity pose): child order and every pose stay as they were."""
    kids = [c.name for c in parent.bodies]
    if kids[-2:] != [name, pad.name]:
        raise FamilyError(f"body {name!r} is not its parent's last child ({kids[:-1]}): it cannot be lowered")
    _reattach(spec, name, pad)


def padded_model(cfg: SceneConfig, tmpl: Template | None = None) -> mujoco.MjModel:
    """The skill's lean scene in the template's structure (tmpl None: its own lean structure), with
    Meta-World's weld reset applied (as `envs.scene.build_model`)."""
    spec, model = _stock(cfg)
    tree = member_tree(model)
    ttree = tmpl.tree if tmpl is not None else tree
    where, pads = embedding(ttree, tree)
    kept, gtype = _kept_geoms(model)
    body_path, _ = _member_slots(model)
    pairs = {s: p for p, s in enumerate(_pair_slots(model, where))}
    tpairs = tmpl.pairs if tmpl is not None else tuple(sorted(pairs))
    by_type = lambda s: (model.site_type[s], s)  # noqa: E731
    sites = {
        b: sorted((s for s in range(model.nsite) if model.site_bodyid[s] == b), key=by_type) for b in range(model.nbody)
    }

    _freeze_inertia(spec, model)
    for seq in (spec.pairs, spec.geoms, spec.sites, spec.cameras, spec.lights):
        for el in list(seq):
            spec.delete(el)
    for seq in (spec.meshes, spec.materials, spec.textures):
        for el in list(seq):
            spec.delete(el)

    spec.compiler.fusestatic = False
    for b, body in enumerate(spec.bodies):
        if b and not body.name:
            body.name = f"_family_stock_body{b}"
    names = [_name(model, mujoco.mjtObj.mjOBJ_BODY, b) or f"_family_stock_body{b}" for b in range(model.nbody)]
    path_body = {where[p]: b for b, p in body_path.items()}  # template slot -> member body id
    pad_of = {tp: path_body[where[mp]] for tp, mp in pads.items()}  # pad slot -> the member body it holds
    stock_kids = _children(model)
    counter = {"geom": 0, "site": 0, "body": 0}
    slot_geom: dict[tuple, str] = {}  # geom slot (template body path, type, index) -> geom name

    def fill(path: tuple, slot: Node, body, b: int | None) -> None:
        """Add slot's geoms and sites to `body` (member body b's own first, dummies for the rest), then its
        children: the member's bodies, pads holding them, or dummies."""
        real_geoms: dict[int, list[int]] = {}
        real_sites: dict[int, list[int]] = {}
        if b is not None:
            for g in kept[b]:
                real_geoms.setdefault(gtype(g), []).append(g)
            for st in sites[b]:
                real_sites.setdefault(int(model.site_type[st]), []).append(st)
        for t, n in slot.geoms:
            gs = real_geoms.get(t, [])
            for k in range(n):
                g = gs[k] if k < len(gs) else None
                slot_geom[(path, t, k)] = (
                    _name(model, mujoco.mjtObj.mjOBJ_GEOM, g) if g is not None else f"_family_geom{counter['geom']}"
                )
                _add_geom(body, model, g, t, counter["geom"], slot_geom[(path, t, k)])
                counter["geom"] += 1
        for t, n in slot.sites:
            ss = real_sites.get(t, [])
            for k in range(n):
                _add_site(body, model, ss[k] if k < len(ss) else None, t, f"_family_site{counter['site']}")
                counter["site"] += 1
        # children are appended in slot order: the slots holding the member's first children in their own order
        # keep them where they are (all of them in a positional template); later member bodies are re-attached
        # at the end, and a body to be lowered under a pad is re-attached unless it already is the last child
        kids = stock_kids.get(b, []) if b is not None else []
        stay = 0
        while stay < min(len(kids), len(slot.children)) and path_body.get(path + (stay,)) == kids[stay]:
            stay += 1
        for k, child in enumerate(slot.children):
            cpath = path + (k,)
            if cpath in path_body:
                if k >= stay:
                    _reattach(spec, names[path_body[cpath]], body)
                fill(cpath, child, spec.body(names[path_body[cpath]]), path_body[cpath])
                continue
            if cpath in pad_of and [c.name for c in body.bodies][-1] != names[pad_of[cpath]]:
                _reattach(spec, names[pad_of[cpath]], body)
            cbody = _dummy_body(body, f"_family_body{counter['body']}", None if cpath in pad_of else child)
            counter["body"] += 1
            if cpath in pad_of:
                _move_under(spec, names[pad_of[cpath]], body, cbody)
            fill(cpath, child, cbody, None)

    fill((), ttree, spec.worldbody, 0)
    for key in tpairs:
        s1, s2, dim = key
        pair = spec.add_pair()
        pair.geomname1 = slot_geom[s1]
        pair.geomname2 = slot_geom[s2]
        pair.condim = dim
        if key in pairs:
            _copy(pair, model, "pair", pairs[key], ("friction", "solref", "solreffriction", "solimp", "margin", "gap"))
        else:
            pair.margin = DUMMY_MARGIN
    out = spec.compile()
    for i in range(out.neq):
        if out.eq_type[i] == mujoco.mjtEq.mjEQ_WELD:
            out.eq_data[i, : METAWORLD_WELD_DATA.size] = METAWORLD_WELD_DATA
    return out


_QPOS_SIZE = {int(mujoco.mjtJoint.mjJNT_FREE): 7, int(mujoco.mjtJoint.mjJNT_BALL): 4}  # slide / hinge: 1
_DOF_SIZE = {int(mujoco.mjtJoint.mjJNT_FREE): 6, int(mujoco.mjtJoint.mjJNT_BALL): 3}


def joint_maps(cfg: SceneConfig, padded: mujoco.MjModel) -> tuple[np.ndarray, np.ndarray]:
    """(qpos index, dof index) arrays: where each qpos / dof of the skill's own scene (metaworld's layout) sits
    in `padded`, the skill's `padded_model(cfg, tmpl)`; the identity unless the template has dummy moving
    bodies or reorders the skill's bodies (pad_joints)."""
    _, own = _stock(cfg)
    qpos, dof = np.zeros(own.nq, np.int64), np.zeros(own.nv, np.int64)
    for j in range(own.njnt):
        b = int(own.jnt_bodyid[j])
        name = _name(own, mujoco.mjtObj.mjOBJ_BODY, b) or f"_family_stock_body{b}"
        pb = mujoco.mj_name2id(padded, mujoco.mjtObj.mjOBJ_BODY, name)
        pj = int(padded.body_jntadr[pb]) + j - int(own.body_jntadr[b])
        nq = _QPOS_SIZE.get(int(own.jnt_type[j]), 1)
        nd = _DOF_SIZE.get(int(own.jnt_type[j]), 1)
        qpos[own.jnt_qposadr[j] : own.jnt_qposadr[j] + nq] = np.arange(
            padded.jnt_qposadr[pj], padded.jnt_qposadr[pj] + nq
        )
        dof[own.jnt_dofadr[j] : own.jnt_dofadr[j] + nd] = np.arange(padded.jnt_dofadr[pj], padded.jnt_dofadr[pj] + nd)
    return qpos, dof


# --- partitioning a skill set into families -------------------------------------------------------------------

#: A family's padded scene may allocate at most this many times the constraint rows of its most expensive
#: member's own scene (padding rows are inactive but still computed).
MAX_ROW_RATIO = 1.5


@functools.lru_cache(maxsize=None)
def _sizes(skill: str, family: tuple[str, ...] | None, pad_joints: bool) -> tuple[int, int]:
    from mujoco import mjx

    from envs.skills import get_skill

    tmpl = template(family, pad_joints) if family is not None else None
    model = padded_model(get_skill(skill).scene, tmpl)
    return int(mjx.make_data(model)._impl.efc_J.shape[0]), int(model.nv)


def constraint_rows(skill: str, family: tuple[str, ...] | None = None, pad_joints: bool = True) -> int:
    """Constraint rows MJX allocates for the skill's lean scene (padded to `family`'s template if given)."""
    return _sizes(skill, family, pad_joints)[0]


def dofs(skill: str, family: tuple[str, ...] | None = None, pad_joints: bool = True) -> int:
    """Degrees of freedom of the skill's lean scene (padded to `family`'s template if given)."""
    return _sizes(skill, family, pad_joints)[1]


def partition(
    skills: Sequence[str], max_row_ratio: float = MAX_ROW_RATIO, pad_joints: bool = True
) -> tuple[tuple[str, ...], ...]:
    """Skills grouped into families, greedily: most expensive skill first, each joins the first family whose
    template takes it with at most `max_row_ratio` x the constraint rows (and the degrees of freedom) of that
    family's most expensive member. pad_joints: templates with dummy moving bodies (`merge`). Deterministic for a
    given skill set; each family lists its skills in the order given."""
    if max_row_ratio < 1.0:
        raise ValueError(f"max_row_ratio must be >= 1, got {max_row_ratio}")
    order = sorted(skills, key=lambda s: (-constraint_rows(s), list(skills).index(s)))
    fams: list[list[str]] = []
    for s in order:
        for f in fams:
            cand = tuple(sorted(f + [s], key=list(skills).index))
            if not compatible(cand, pad_joints):
                continue
            rows, nv = _sizes(cand[0], cand, pad_joints)
            if rows <= max_row_ratio * max(constraint_rows(m) for m in cand) and nv <= max_row_ratio * max(
                dofs(m) for m in cand
            ):
                f.append(s)
                break
        else:
            fams.append([s])
    out = [tuple(sorted(f, key=list(skills).index)) for f in fams]
    return tuple(sorted(out, key=lambda f: list(skills).index(f[0])))
