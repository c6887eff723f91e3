"""MJX-native scenes built from Meta-World's own MJCF files.

Meta-World's stock scenes collide through meshes and (cylinder, box) pairs that MJX's jax backend
either cannot handle or handles with hundreds of reserved contacts. We load the stock XML from the
installed metaworld package (meshes stay, for rendering), switch off every automatic collision
(contype = conaffinity = 0), and collide only through explicit contact pairs between primitive
geoms: the stock primitives where MJX supports the pair, plus mass-less proxy geoms (capsules for
cylinders, boxes/capsules for meshes) added to the same bodies. Bodies, joints, qpos/qvel layout,
inertias, actuators and the mocap weld are untouched, so a MuJoCo state of the stock env can be
copied into the MJX env one-to-one.

Contact-pair parameters default to MuJoCo's rule for combining the two geoms (max condim, max
friction, mean solref/solimp for equal solmix, max margin/gap), so a pair of stock geoms behaves as
it would have under automatic collision detection.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Sequence

import mujoco
import numpy as np

#: Meta-World's weld reset (`SawyerMocapBase.reset_mocap_welds`): anchor 0, relpose (0,0,0,-1,0,0,0),
#: torquescale 5. Applied to every weld after compiling, as metaworld does after loading.
METAWORLD_WELD_DATA = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 5.0])


def metaworld_asset(path: str) -> str:
    """Absolute path of an MJCF file shipped with the installed metaworld (e.g. 'sawyer_xyz/x.xml')."""
    from metaworld.asset_path_utils import full_V3_path_for

    full = full_V3_path_for(path)
    if not os.path.exists(full):
        raise FileNotFoundError(f"metaworld asset {path!r} not found at {full}")
    return full


@dataclasses.dataclass(frozen=True)
class Proxy:
    """A collision-only primitive geom added to an existing body (no mass, invisible)."""

    name: str
    body: str  # body name, "world", or "joint:<name>" for the (possibly unnamed) body of a joint
    type: str  # "capsule" | "box" | "sphere" | "plane" | "cylinder"
    size: Sequence[float]
    pos: Sequence[float] = (0.0, 0.0, 0.0)
    quat: Sequence[float] = (1.0, 0.0, 0.0, 0.0)
    like: str | None = None  # copy friction/solref/solimp/condim/margin from this geom


@dataclasses.dataclass(frozen=True)
class Pair:
    """An explicit contact pair; unset parameters follow MuJoCo's geom-combination rule."""

    geom1: str
    geom2: str
    condim: int | None = None
    friction: Sequence[float] | None = None  # 5 values (tangent, tangent, torsional, rolling, rolling)
    solref: Sequence[float] | None = None
    solimp: Sequence[float] | None = None
    margin: float | None = None


@dataclasses.dataclass(frozen=True)
class SceneConfig:
    """What turns a stock Meta-World XML into an MJX-native scene."""

    xml: str  # path relative to metaworld's assets, e.g. "sawyer_xyz/sawyer_reach_v3.xml"
    proxies: tuple[Proxy, ...] = ()
    pairs: tuple[Pair, ...] = ()
    # Solver settings (stock: Newton, 50 iterations, 50 line-search iterations, elliptic cone).
    solver: str = "newton"
    iterations: int = 4
    ls_iterations: int = 8
    cone: str = "pyramidal"
    tolerance: float = 1e-10


_GEOM_TYPES = {
    "plane": mujoco.mjtGeom.mjGEOM_PLANE,
    "sphere": mujoco.mjtGeom.mjGEOM_SPHERE,
    "capsule": mujoco.mjtGeom.mjGEOM_CAPSULE,
    "box": mujoco.mjtGeom.mjGEOM_BOX,
    "cylinder": mujoco.mjtGeom.mjGEOM_CYLINDER,
}
_SOLVERS = {"newton": mujoco.mjtSolver.mjSOL_NEWTON, "cg": mujoco.mjtSolver.mjSOL_CG}
_CONES = {"pyramidal": mujoco.mjtCone.mjCONE_PYRAMIDAL, "elliptic": mujoco.mjtCone.mjCONE_ELLIPTIC}


def _find_geom(spec: mujoco.MjSpec, name: str):
    g = spec.geom(name)
    if g is None:
        raise KeyError(f"scene has no geom named {name!r}")
    return g


def _combined(g1, g2):
    """MuJoCo's parameter combination for two geoms (equal solmix; see mj_contactParam)."""
    mix1, mix2 = float(g1.solmix), float(g2.solmix)
    w = 0.5 if mix1 + mix2 < mujoco.mjMINVAL else mix1 / (mix1 + mix2)
    fr = np.maximum(np.asarray(g1.friction), np.asarray(g2.friction))
    friction = [fr[0], fr[0], fr[1], fr[2], fr[2]]
    s1, s2 = np.asarray(g1.solref), np.asarray(g2.solref)
    if s1[0] > 0 and s2[0] > 0:
        solref = w * s1 + (1 - w) * s2
    else:
        solref = np.minimum(s1, s2)
    solimp = w * np.asarray(g1.solimp) + (1 - w) * np.asarray(g2.solimp)
    return dict(
        condim=max(int(g1.condim), int(g2.condim)),
        friction=friction,
        solref=solref,
        solimp=solimp,
        margin=max(float(g1.margin), float(g2.margin)),
        gap=max(float(g1.gap), float(g2.gap)),
    )


def _find_body(spec: mujoco.MjSpec, name: str):
    """A body by name; "world" is the world body, "joint:<joint name>" the (possibly unnamed) body of a joint."""
    if name == "world":
        return spec.worldbody
    if name.startswith("joint:"):
        joint = spec.joint(name[len("joint:") :])
        return None if joint is None else joint.parent
    return spec.body(name)


def build_spec(cfg: SceneConfig) -> mujoco.MjSpec:
    """Stock XML -> MjSpec with automatic collisions off, proxies added, explicit pairs and solver set."""
    spec = mujoco.MjSpec.from_file(metaworld_asset(cfg.xml))
    for g in spec.geoms:
        g.contype = 0
        g.conaffinity = 0
    for p in cfg.proxies:
        if p.type not in _GEOM_TYPES:
            raise ValueError(f"proxy {p.name!r}: unknown geom type {p.type!r}; valid: {sorted(_GEOM_TYPES)}")
        body = _find_body(spec, p.body)
        if body is None:
            raise KeyError(f"proxy {p.name!r}: scene has no body named {p.body!r}")
        g = body.add_geom()
        g.name = p.name
        g.type = _GEOM_TYPES[p.type]
        size = list(p.size) + [0.0] * (3 - len(p.size))
        g.size = size
        g.pos = list(p.pos)
        g.quat = list(p.quat)
        g.contype = 0
        g.conaffinity = 0
        g.mass = 0.0
        g.density = 0.0
        g.group = 5
        g.rgba = [0.2, 0.8, 0.2, 0.0]
        if p.like is not None:
            src = _find_geom(spec, p.like)
            g.friction = list(src.friction)
            g.solref = list(src.solref)
            g.solimp = list(src.solimp)
            g.condim = src.condim
            g.margin = src.margin
            g.gap = src.gap
    for pr in cfg.pairs:
        g1, g2 = _find_geom(spec, pr.geom1), _find_geom(spec, pr.geom2)
        params = _combined(g1, g2)
        pair = spec.add_pair()
        pair.geomname1 = pr.geom1
        pair.geomname2 = pr.geom2
        pair.condim = pr.condim if pr.condim is not None else params["condim"]
        pair.friction = list(pr.friction if pr.friction is not None else params["friction"])
        pair.solref = list(pr.solref if pr.solref is not None else params["solref"])
        pair.solimp = list(pr.solimp if pr.solimp is not None else params["solimp"])
        pair.margin = pr.margin if pr.margin is not None else params["margin"]
        pair.gap = params["gap"]
    if cfg.solver not in _SOLVERS:
        raise ValueError(f"unknown solver {cfg.solver!r}; valid: {sorted(_SOLVERS)}")
    if cfg.cone not in _CONES:
        raise ValueError(f"unknown cone {cfg.cone!r}; valid: {sorted(_CONES)}")
    spec.option.solver = _SOLVERS[cfg.solver]
    spec.option.iterations = cfg.iterations
    spec.option.ls_iterations = cfg.ls_iterations
    spec.option.cone = _CONES[cfg.cone]
    spec.option.tolerance = cfg.tolerance
    return spec


def build_model(cfg: SceneConfig) -> mujoco.MjModel:
    """Compiled MuJoCo model of the MJX-native scene, with Meta-World's weld reset applied."""
    model = build_spec(cfg).compile()
    for i in range(model.neq):
        if model.eq_type[i] == mujoco.mjtEq.mjEQ_WELD:
            model.eq_data[i, : METAWORLD_WELD_DATA.size] = METAWORLD_WELD_DATA
    return model


def stock_model(xml: str) -> mujoco.MjModel:
    """The unmodified Meta-World model (for reference comparisons), with the weld reset applied."""
    model = mujoco.MjModel.from_xml_path(metaworld_asset(xml))
    for i in range(model.neq):
        if model.eq_type[i] == mujoco.mjtEq.mjEQ_WELD:
            model.eq_data[i, : METAWORLD_WELD_DATA.size] = METAWORLD_WELD_DATA
    return model
