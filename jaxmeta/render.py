"""Host-side rendering of MJX rollouts with MuJoCo's renderer (``jaxmeta eval --video``).

Contract:

- GL backend: MuJoCo picks its OpenGL backend from ``MUJOCO_GL`` once, when ``mujoco`` is first imported.
  `select_gl` (call it before anything imports mujoco) keeps a ``MUJOCO_GL`` the user set and otherwise
  picks ``egl`` when there is no display (no ``DISPLAY`` / ``WAYLAND_DISPLAY``), else ``glfw``.
  `check_gl` renders a tiny scene and raises `RenderError` naming what is missing (the Debian packages of
  EGL: libegl1 libegl-mesa0 libgl1-mesa-dri; of OSMesa: libosmesa6; and the MUJOCO_GL setting) instead of
  a traceback from deep inside PyOpenGL.
- `SkillScene(env, camera, width, height)`: renders states of one skill's MJX env (`envs.sawyer.Env`).
  The MJX env's own model is its lean physics scene (no meshes, cameras or lights; padded to a family
  template in multi-task envs), so frames are drawn with the skill's full scene instead
  (`envs.scene.build_model`: metaworld's XML with its meshes and cameras), which has the same joints and
  mocap bodies in the same order (checked): qpos, qvel, mocap_pos and mocap_quat of an MJX state are
  copied into a host `mujoco.MjData`, `mj_forward` computes the poses, and the renderer draws them. The
  task's per-episode model edits (``task["model"]``, e.g. a drawer's body_pos) are applied by element
  name, and the site named ``goal`` is drawn at the task's ``target_pos`` (metaworld's default
  ``_target_site_config``).
- `tile(videos, cols)`: per-skill frame stacks (L, H, W, 3) -> one grid video, row-major, black padding.
- `mark_success(frames, succeeded)`: a green border on the frames where the episode has succeeded.
- `check_writer(path)` / `write_video(path, frames, fps)`: ``.mp4`` (H.264 through imageio-ffmpeg, the
  ``video`` extra: ``pip install -e '.[video]'``) or ``.gif`` (Pillow; it merges identical consecutive
  frames into one longer frame).

Everything except `select_gl` is a function of its arguments; mujoco is imported lazily.
"""

from __future__ import annotations

import copy
import importlib.util
import os
import warnings
from pathlib import Path
from typing import Any, Mapping, MutableMapping, Sequence

import numpy as np

__all__ = [
    "DEFAULT_CAMERA",
    "GL_BACKENDS",
    "RenderError",
    "SkillScene",
    "VIDEO_FORMATS",
    "check_gl",
    "check_writer",
    "gl_backend",
    "grid_shape",
    "mark_success",
    "select_gl",
    "tile",
    "write_video",
]

#: metaworld's corner view of the table (xyz_base.xml also has topview, corner2-4, behindGripper, gripperPOV)
DEFAULT_CAMERA = "corner"
#: MUJOCO_GL values this module accepts -> (the Debian packages it needs, what it is)
GL_BACKENDS = {
    "egl": ("libegl1 libegl-mesa0 libgl1-mesa-dri", "headless; Mesa renders in software without a GPU"),
    "osmesa": ("libosmesa6", "headless, software"),
    "glfw": ("libglfw3 libgl1", "needs a display"),
}
VIDEO_FORMATS = (".mp4", ".gif")
_BORDER = 3  # pixels of the success border
_GREEN = np.array([40, 200, 60], np.uint8)


class RenderError(RuntimeError):
    """Rendering is impossible here (no GL backend, no video writer, unknown camera, ...); says why."""


# ------------------------------------------------------------------------------------------------ GL
def gl_backend(environ: Mapping[str, str]) -> str:
    """The GL backend for `environ`: its MUJOCO_GL if set, else egl without a display, else glfw."""
    gl = environ.get("MUJOCO_GL", "").strip().lower()
    if gl:
        return gl
    return "glfw" if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY") else "egl"


def _missing_hint(backend: str) -> str:
    pkgs, what = GL_BACKENDS[backend]
    others = "; ".join(f"MUJOCO_GL={b} ({w}): {p}" for b, (p, w) in GL_BACKENDS.items() if b != backend)
    return (
        f"MUJOCO_GL={backend} ({what}) needs the Debian packages {pkgs} (apt-get install {pkgs}); "
        f"other backends: {others}"
    )


def _unknown(gl: str) -> RenderError:
    return RenderError(
        f"MUJOCO_GL={gl} cannot render: use one of {', '.join(GL_BACKENDS)} (egl or osmesa without a display)"
    )


def select_gl(environ: MutableMapping[str, str] = os.environ) -> str:
    """Set MUJOCO_GL in `environ` to `gl_backend(environ)` unless the user set it; return the backend.

    RenderError for a MUJOCO_GL value other than `GL_BACKENDS`. Takes effect only if mujoco is imported
    afterwards (`check_gl` reports a mujoco that was imported with another backend)."""
    gl = gl_backend(environ)
    if gl not in GL_BACKENDS:
        raise _unknown(gl)
    environ.setdefault("MUJOCO_GL", gl)
    return gl


def check_gl(environ: Mapping[str, str] = os.environ) -> str:
    """Render a tiny scene with the GL backend mujoco uses; RenderError naming what is missing if that
    fails (call it before anything else imports mujoco: a missing GL library can break that import).
    Returns the backend."""
    gl = gl_backend(environ)
    if gl not in GL_BACKENDS:
        raise _unknown(gl)
    try:
        import mujoco

        context = getattr(mujoco, "GLContext", None)
        if context is None:  # mujoco swallowed the ImportError of its GL module: get it again
            importlib.import_module(f"mujoco.{gl}")
            raise RuntimeError("mujoco found no GL context")
    except Exception as e:  # noqa: BLE001  (a missing libEGL / libOSMesa surfaces as any of several errors)
        raise RenderError(f"no OpenGL with MUJOCO_GL={gl} ({type(e).__name__}: {e}). {_missing_hint(gl)}") from e
    if context.__module__.split(".")[-1] != gl:
        raise RenderError(
            f"mujoco was imported before MUJOCO_GL={gl} was set and uses {context.__module__}; "
            f"set MUJOCO_GL={gl} in the environment before Python starts"
        )
    try:
        model = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom size='0.1'/></worldbody></mujoco>")
        r = mujoco.Renderer(model, 8, 8)
        try:
            r.update_scene(mujoco.MjData(model))
            r.render()
        finally:
            r.close()
    except Exception as e:  # noqa: BLE001  (PyOpenGL / ctypes / mujoco.FatalError: all mean "no GL here")
        raise RenderError(
            f"no OpenGL context with MUJOCO_GL={gl} ({type(e).__name__}: {e or 'no message'}). {_missing_hint(gl)}"
        ) from e
    return gl


# -------------------------------------------------------------------------------------------- scenes
def _names(model, obj, n: int) -> list[str | None]:
    import mujoco

    return [mujoco.mj_id2name(model, obj, i) for i in range(n)]


def _mocap_bodies(model) -> list[str | None]:
    import mujoco

    by_id = {int(model.body_mocapid[b]): b for b in range(model.nbody) if model.body_mocapid[b] >= 0}
    return [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, by_id[i]) for i in range(model.nmocap)]


#: model fields a task may edit per episode -> the element type their rows index
_EDITABLE = {
    "body_pos": "BODY",
    "body_quat": "BODY",
    "site_pos": "SITE",
    "site_quat": "SITE",
    "geom_pos": "GEOM",
    "geom_quat": "GEOM",
    "geom_size": "GEOM",
    "geom_rgba": "GEOM",
}


class SkillScene:
    """Renders MJX states of one skill (see the module docstring). Use as a context manager (or `close`)."""

    def __init__(self, env: Any, camera: str = DEFAULT_CAMERA, width: int = 320, height: int = 240):
        import mujoco

        from envs.scene import build_model

        self.sim_model = env.sim.model
        model = build_model(env.skill.scene)
        sim = self.sim_model
        joint = mujoco.mjtObj.mjOBJ_JOINT
        if (
            (model.nq, model.nv, model.nmocap) != (sim.nq, sim.nv, sim.nmocap)
            or _names(model, joint, model.njnt) != _names(sim, joint, sim.njnt)
            or _mocap_bodies(model) != _mocap_bodies(sim)
        ):
            raise RenderError(f"{env.name}: the render scene's joints / mocap bodies differ from the MJX env's")
        cams = [c for c in _names(model, mujoco.mjtObj.mjOBJ_CAMERA, model.ncam) if c]
        if camera not in cams:
            raise RenderError(f"{env.name} has no camera {camera!r}; cameras: {', '.join(cams)}")
        model.vis.global_.offwidth = max(int(model.vis.global_.offwidth), width)
        model.vis.global_.offheight = max(int(model.vis.global_.offheight), height)
        self.name, self.model, self.camera = env.name, model, camera
        self.width, self.height = width, height
        self.camera_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        self.goal_site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, "goal")
        self._renderer = None

    def _edited(self, overrides: Mapping[str, np.ndarray]):
        """A copy of the render model with the task's model edits (rows that differ from the MJX env's
        model, mapped by element name)."""
        import mujoco

        if not overrides:
            return self.model
        model = copy.copy(self.model)
        for field, value in overrides.items():
            if field not in _EDITABLE:
                raise RenderError(f"{self.name}: cannot draw the task's edit of model field {field!r}")
            obj = getattr(mujoco.mjtObj, "mjOBJ_" + _EDITABLE[field])
            base, value = getattr(self.sim_model, field), np.asarray(value)
            for i in np.flatnonzero(np.any(np.abs(value - base) > 0, axis=-1)):
                name = mujoco.mj_id2name(self.sim_model, obj, int(i))
                j = mujoco.mj_name2id(model, obj, name) if name else -1
                if j < 0:
                    raise RenderError(
                        f"{self.name}: the task edits {field} of element {i} ({name}), which the render scene lacks"
                    )
                getattr(model, field)[j] = value[i]
        return model

    def render(self, episode: Mapping[str, Any]) -> np.ndarray:
        """Frames (L, height, width, 3) uint8 of one episode: ``qpos`` (L, nq), ``qvel`` (L, nv),
        ``mocap_pos`` (L, nmocap, 3), ``mocap_quat`` (L, nmocap, 4), ``model`` ({field: array}: the task's
        model edits, constant over the episode), ``target_pos`` (3,)."""
        import mujoco

        model = self._edited(episode.get("model") or {})
        data = mujoco.MjData(model)
        qpos = np.asarray(episode["qpos"])
        frames = np.empty((qpos.shape[0], self.height, self.width, 3), np.uint8)
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, self.height, self.width)
        r = self._renderer
        for t in range(qpos.shape[0]):
            data.qpos[:] = qpos[t]
            data.qvel[:] = np.asarray(episode["qvel"])[t]
            data.mocap_pos[:] = np.asarray(episode["mocap_pos"])[t]
            data.mocap_quat[:] = np.asarray(episode["mocap_quat"])[t]
            mujoco.mj_forward(model, data)
            if self.goal_site >= 0 and episode.get("target_pos") is not None:
                data.site_xpos[self.goal_site] = np.asarray(episode["target_pos"])
            r.update_scene(data, camera=self.camera)
            frames[t] = r.render()
            if data.cam_xmat[self.camera_id, 7] < 0:  # the camera's up axis points down: show it upright
                frames[t] = frames[t, ::-1, ::-1]
        return frames

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    def __enter__(self) -> "SkillScene":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# -------------------------------------------------------------------------------------------- frames
def mark_success(frames: np.ndarray, succeeded: np.ndarray) -> np.ndarray:
    """`frames` (L, H, W, 3) with a green border on frames t where ``succeeded[t]``."""
    out = np.array(frames, copy=True)
    idx, b = np.flatnonzero(np.asarray(succeeded, bool)), _BORDER
    every = slice(None)
    for rows, cols in ((slice(0, b), every), (slice(-b, None), every), (every, slice(0, b)), (every, slice(-b, None))):
        out[idx, rows, cols] = _GREEN
    return out


def grid_shape(n: int) -> tuple[int, int]:
    """(rows, cols) of a near-square grid of n tiles (cols >= rows)."""
    cols = int(np.ceil(np.sqrt(n)))
    return int(np.ceil(n / cols)), cols


def tile(videos: Sequence[np.ndarray]) -> np.ndarray:
    """Per-skill frame stacks (L, H, W, 3) of equal shape -> (L, rows * H, cols * W, 3), row-major."""
    if not videos:
        raise ValueError("tile needs at least one video")
    L, H, W, C = np.shape(videos[0])
    rows, cols = grid_shape(len(videos))
    out = np.zeros((L, rows * H, cols * W, C), np.uint8)
    for k, v in enumerate(videos):
        r, c = divmod(k, cols)
        out[:, r * H : (r + 1) * H, c * W : (c + 1) * W] = v
    return out


# -------------------------------------------------------------------------------------------- writing
def check_writer(path: str | os.PathLike) -> None:
    """RenderError unless a video can be written at `path` (format, folder, writer installed)."""
    p = Path(path)
    if p.suffix.lower() not in VIDEO_FORMATS:
        raise RenderError(f"--video {str(p)!r}: the file name must end in {' or '.join(VIDEO_FORMATS)}")
    if not p.parent.is_dir():
        raise RenderError(f"--video {str(p)!r}: folder {str(p.parent)!r} does not exist")
    if p.suffix.lower() == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        raise RenderError(
            "writing .mp4 needs imageio-ffmpeg (pip install -e '.[video]', or pip install "
            "imageio-ffmpeg); or write a .gif (--video PATH.gif)"
        )
    if p.suffix.lower() == ".gif" and importlib.util.find_spec("PIL") is None:
        raise RenderError("writing .gif needs Pillow (pip install pillow); or write an .mp4")


def write_video(path: str | os.PathLike, frames: np.ndarray, fps: float) -> None:
    """Write frames (L, H, W, 3) uint8 as .mp4 (H.264, yuv420p: H and W must be even) or .gif."""
    import imageio.v3 as iio

    check_writer(path)
    frames = np.asarray(frames, np.uint8)
    if Path(path).suffix.lower() == ".mp4":
        if frames.shape[1] % 2 or frames.shape[2] % 2:
            raise RenderError(f"an .mp4 needs an even frame size, got {frames.shape[2]}x{frames.shape[1]}")
        with warnings.catch_warnings():  # imageio-ffmpeg starts ffmpeg (fork + exec): JAX's fork warning
            warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
            iio.imwrite(
                path, frames, plugin="FFMPEG", fps=fps, codec="libx264", macro_block_size=2, pixelformat="yuv420p"
            )
    else:
        iio.imwrite(path, frames, plugin="pillow", duration=1000.0 / fps, loop=0)
