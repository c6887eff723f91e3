"""``jaxmeta eval RUN``: evaluate a trained run's checkpoint, print a per-skill success table, optionally
render the episodes to a video.

    jaxmeta eval checkpoints/reach                          # latest checkpoint, the run's eval_episodes
    jaxmeta eval checkpoints/mt10 --episodes 50 --checkpoint 2000000 --seed 1
    jaxmeta eval checkpoints/reach --video reach.mp4        # also render each skill's first episode
    jaxmeta eval checkpoints/reach --video reach.gif --camera corner3 --size 480x360

Contract:

- RUN is a run directory written by ``jaxmeta train`` or ``jaxmeta finetune``; it is only read. The policy
  is the actor of its checkpoint ``--checkpoint STEP`` (env steps, the name of a folder in
  ``RUN/checkpoints``; default the latest), read by `jaxmeta.checkpoint.restore_policy` with the
  checkpoint's own config (``--seed-index`` picks the seed of a multi-seed run).
- Evaluation is `jaxmeta.evaluate`'s protocol: per skill of the run's benchmark / split / tasks,
  ``--episodes`` episodes (default: the run's ``eval_episodes``), one per instance of the env
  `jaxmeta.train.make_env` builds with ``envs_per_skill = episodes``, reset with key
  ``PRNGKey(--seed)``; the deterministic policy ``tanh(mean)`` (``--policy sample``: samples of the policy,
  keys from ``PRNGKey(--seed)``; default the run's ``eval_policy``) acts for the run's ``max_path_length``
  steps; an episode succeeds if any step does. So, with the mean, the success rates equal
  ``evaluate_checkpoint(RUN, episodes, seed, step, seed_index)``'s and the returns equal
  ``make_evaluate``'s ``return_per_skill`` (up to float32 summation order). The rollout is one jitted
  ``lax.scan`` (`make_rollout`) that returns every step's reward and success flag; the table is computed
  from them on the host (`summarize`).
- Output (`format_table`): one line naming run, checkpoint and protocol, then per skill: episodes,
  success rate, mean (undiscounted) return, and a ``mean`` row over skills (metaworld's headline number).
- ``--video PATH.mp4|PATH.gif`` also records the physics state of each skill's first episode (instance 0)
  and renders it on the host (`jaxmeta.render`): one frame per env step (the state each action was taken
  in), the skills tiled row-major in a near-square grid of ``--size`` tiles (default 320x240, 160x120
  from 4 grid columns on), a green border from the step on which that episode has succeeded. ``.mp4``
  needs imageio-ffmpeg (the ``video`` extra). Headless machines need EGL or OSMesa (`jaxmeta.render`):
  MUJOCO_GL is set to egl when unset and there is no display.
- Errors (a missing or invalid run directory or checkpoint, a bad flag, an unwritable video path, no GL
  backend, an unknown camera, a toy benchmark with --video) print one line ``jaxmeta eval: error: ...``
  and exit with status 2, before anything is compiled.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any, Callable

import numpy as np

__all__ = ["EvalResult", "add_parser", "format_table", "main", "make_rollout", "summarize"]

#: mjx.Data fields copied to the host for rendering
STATE_FIELDS = ("qpos", "qvel", "mocap_pos", "mocap_quat")
DEFAULT_FPS = 25.0


# ------------------------------------------------------------------------------------------- parser
def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = None
    if v is None or v < 1:
        raise argparse.ArgumentTypeError(f"must be an int >= 1, got {text!r}")
    return v


def _nonnegative(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        v = None
    if v is None or v < 0:
        raise argparse.ArgumentTypeError(f"must be an int >= 0, got {text!r}")
    return v


def _size(text: str) -> tuple[int, int]:
    """'320x240' -> (320, 240): even numbers (H.264 needs them) in [16, 4096]."""
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        w = h = None
    if w is None or not all(16 <= v <= 4096 and v % 2 == 0 for v in (w, h)):
        raise argparse.ArgumentTypeError(f"must be WIDTHxHEIGHT with even numbers in [16, 4096], got {text!r}")
    return w, h


def _fps(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        v = 0.0
    if not 0 < v <= 1000:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1000], got {text!r}")
    return v


def add_parser(sub) -> argparse.ArgumentParser:
    """Register the ``eval`` sub-command on `sub` (an argparse sub-parsers action)."""
    from jaxmeta.config import EVAL_POLICIES
    from jaxmeta.render import DEFAULT_CAMERA

    e = sub.add_parser(
        "eval",
        help="evaluate a trained run's checkpoint: per-skill success, optional video",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    e.add_argument("run", metavar="RUN", help="run directory written by jaxmeta train / finetune")
    e.add_argument(
        "--checkpoint",
        "--step",
        dest="step",
        type=_nonnegative,
        help="checkpoint to evaluate: env steps, a folder name in RUN/checkpoints (default: latest)",
    )
    e.add_argument("--episodes", type=_positive, help="episodes per skill (default: the run's eval_episodes)")
    e.add_argument("--seed", type=int, default=0, help="evaluation key: PRNGKey(seed) draws the episodes' tasks")
    e.add_argument("--seed-index", type=_nonnegative, default=0, help="seed of a multi-seed run")
    e.add_argument(
        "--policy",
        choices=EVAL_POLICIES,
        help="act with the policy's mean (deterministic) or a sample of it (default: the run's eval_policy, "
        "normally mean); the samples' keys come from PRNGKey(--seed)",
    )
    e.add_argument(
        "--split",
        choices=["train", "test"],
        help="task sets to evaluate on (default: the run's; test = the held-out tasks / skills of ML1 / ML10)",
    )
    e.add_argument("--video", metavar="PATH", help="render each skill's first episode to PATH.mp4 or PATH.gif")
    e.add_argument(
        "--camera",
        default=DEFAULT_CAMERA,
        help="scene camera: topview, corner, corner2, corner3, corner4, behindGripper, gripperPOV",
    )
    e.add_argument(
        "--size", type=_size, help="WIDTHxHEIGHT of each skill's tile (default 320x240; 160x120 from 4 grid columns on)"
    )
    e.add_argument(
        "--fps",
        type=_fps,
        default=DEFAULT_FPS,
        help="video frames per second (one frame per env step; metaworld steps at 80 per second)",
    )
    return e


# ------------------------------------------------------------------------------------------ rollout
def make_rollout(
    env: Any, networks: Any, max_path_length: int, video: bool = False, sample: bool = False
) -> Callable[[Any, Any], dict]:
    """``rollout(actor_params, key) -> dict`` (jit it): one episode per instance of the batched env `env`
    (skill-major rows, `max_path_length` steps, deterministic policy ``tanh(mean)``, or with `sample` the
    policy's samples, step t's key ``fold_in(fold_in(key, 1), t)``) from ``env.reset(key)``.

    Returns ``reward`` (L, N) f32 and ``success`` (L, N) bool of every step; with `video` also ``states``:
    per skill {field: (L, ...)} of `STATE_FIELDS` of its instance 0 before each step, and ``tasks``: per
    skill ``{"model": the task's model edits, "target_pos"}`` of that episode."""
    import jax
    import jax.numpy as jnp

    def first(tree):
        return jax.tree.map(lambda x: x[0], tree)

    def states(s):
        return tuple({f: getattr(g.data, f)[0] for f in STATE_FIELDS} for g in s.groups)

    def rollout(actor_params, key):
        s0 = env.reset(key)

        def body(s, t):
            if sample:
                k = jax.random.fold_in(jax.random.fold_in(key, 1), t)
                a = networks.sample_action(actor_params, s.obs, s.skill_id, k)[0]
            else:
                a = networks.deterministic_action(actor_params, s.obs, s.skill_id)
            new = env.step(s, a)
            out = {"reward": new.reward, "success": new.success}
            if video:
                out["states"] = states(s)
            return new, out

        _, out = jax.lax.scan(body, s0, jnp.arange(max_path_length))
        if video:
            out["tasks"] = tuple(
                first({"model": g.task.get("model") or {}, "target_pos": g.task["target_pos"]}) for g in s0.groups
            )
        return out

    return rollout


@dataclasses.dataclass(frozen=True)
class EvalResult:
    """Per-skill evaluation of a policy (host numbers)."""

    skills: tuple[str, ...]
    episodes: int
    success: np.ndarray  # (T,) success rate per skill
    returns: np.ndarray  # (T,) mean undiscounted episode return per skill
    episode_success: np.ndarray  # (T, E) bool

    @property
    def mean_success(self) -> float:
        return float(np.mean(self.success))

    @property
    def mean_return(self) -> float:
        return float(np.mean(self.returns))


def summarize(out: dict, skills: tuple[str, ...], episodes: int) -> EvalResult:
    """The EvalResult of a rollout's per-step ``reward`` / ``success`` (L, T * episodes), skill-major."""
    T, E = len(skills), int(episodes)
    succ = np.any(np.asarray(out["success"], bool), axis=0).reshape(T, E)
    ret = np.sum(np.asarray(out["reward"], np.float64), axis=0).reshape(T, E)
    return EvalResult(
        skills=tuple(skills), episodes=E, success=succ.mean(axis=1), returns=ret.mean(axis=1), episode_success=succ
    )


def format_table(result: EvalResult) -> str:
    """skill | episodes | success | mean return, then the mean over skills."""
    w = max(len("skill"), *(len(s) for s in result.skills))
    lines = [f"{'skill':<{w}}  {'episodes':>8}  {'success':>7}  {'mean return':>11}"]
    for s, sr, r in zip(result.skills, result.success, result.returns):
        lines.append(f"{s:<{w}}  {result.episodes:>8d}  {sr:>7.3f}  {r:>11.2f}")
    lines.append(f"{'mean':<{w}}  {result.episodes:>8d}  {result.mean_success:>7.3f}  {result.mean_return:>11.2f}")
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------- video
def _tile_size(num_skills: int, size: tuple[int, int] | None) -> tuple[int, int]:
    from jaxmeta.render import grid_shape

    if size is not None:
        return size
    return (320, 240) if grid_shape(num_skills)[1] <= 3 else (160, 120)


def render_video(scenes: list, out: dict, path: str, fps: float) -> tuple[int, int, int]:
    """Render each skill's recorded episode with its `jaxmeta.render.SkillScene`, tile, write `path`.
    Returns (frames, width, height) of the video."""
    from jaxmeta.render import mark_success, tile, write_video

    succ = np.asarray(out["success"], bool)
    E = succ.shape[1] // len(scenes)
    videos = []
    for g, scene in enumerate(scenes):
        episode = {
            **{k: np.asarray(v) for k, v in out["states"][g].items()},
            "model": {k: np.asarray(v) for k, v in out["tasks"][g]["model"].items()},
            "target_pos": np.asarray(out["tasks"][g]["target_pos"]),
        }
        done = np.logical_or.accumulate(succ[:, g * E])  # succeeded by step t (frame t + 1)
        with scene:
            videos.append(mark_success(scene.render(episode), np.concatenate([[False], done[:-1]])))
    frames = tile(videos)
    write_video(path, frames, fps)
    return frames.shape[0], frames.shape[2], frames.shape[1]


# --------------------------------------------------------------------------------------------- main
def main(p: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """``jaxmeta eval`` (parsed `args`); errors exit through ``p.exit(2, ...)`` before any compile."""
    from jaxmeta.checkpoint import CheckpointError
    from jaxmeta.render import RenderError

    def fail(e) -> None:
        p.exit(2, f"jaxmeta eval: error: {e}\n")

    try:
        if args.video:
            from jaxmeta.render import check_writer, select_gl

            check_writer(args.video)
            select_gl()  # before anything imports mujoco
        pol, cfg = _policy(args)
        if args.video:
            from jaxmeta.render import check_gl

            if cfg.benchmark.startswith("toy/"):
                raise RenderError(
                    f"{cfg.benchmark} has no MuJoCo scene to render (--video needs a Meta-World benchmark)"
                )
            check_gl()  # before the envs import mujoco
        from jaxmeta.config import check_ported
        from jaxmeta.train import make_env

        if args.split is not None and args.split != cfg.split:
            cfg = cfg.replace(split=args.split, task_indices=None)  # (ValueError: skills the policy does not know)
        from jaxmeta.config import ALGOS

        if ALGOS[cfg.algo].make_learner(cfg).load_policy is not None:  # RL2, PEARL: adapts within a trial
            if args.video:
                raise ValueError(f"--video is not available for an {cfg.algo!r} run (its policy adapts within a trial)")
            check_ported(cfg.benchmark, cfg.split)
            return _meta_test(pol, cfg, args)
        check_ported(cfg.benchmark, cfg.split)
        episodes = args.episodes or cfg.eval_episodes
        env = make_env(cfg, episodes)
        scenes = _scenes(env, args) if args.video else None
    except (ValueError, CheckpointError, RenderError) as e:
        fail(e)

    import jax

    from envs._runtime import enable_compilation_cache
    from jaxmeta.config import ALGOS

    enable_compilation_cache()
    networks = ALGOS[cfg.algo].make_learner(cfg).networks
    split = "" if cfg.split == "train" else f" {cfg.split} split"
    tasks = "" if cfg.task_indices is None else f" tasks {','.join(map(str, cfg.task_indices))}"
    print(
        f"jaxmeta eval: {args.run} checkpoint {pol['step']} ({cfg.benchmark}{split}{tasks}, {cfg.algo}"
        f"{f', seed index {args.seed_index}' if cfg.num_seeds > 1 else ''}): {episodes} episode(s) per skill "
        f"of {cfg.max_path_length} steps, {_policy_words(args.policy or cfg.eval_policy)}, key PRNGKey({args.seed}); "
        "compiling ...",
        flush=True,
    )
    sample = (args.policy or cfg.eval_policy) == "sample"
    rollout = jax.jit(make_rollout(env, networks, cfg.max_path_length, video=scenes is not None, sample=sample))
    out = jax.device_get(rollout(pol["actor_params"], jax.random.PRNGKey(args.seed)))
    print(format_table(summarize(out, tuple(env.skills), episodes)), flush=True)
    if scenes is not None:
        try:
            n, w, h = render_video(scenes, out, args.video, args.fps)
        except RenderError as e:
            fail(e)
        from jaxmeta.render import grid_shape

        rows, cols = grid_shape(len(scenes))
        print(
            f"video: {args.video} ({n} frames of {w}x{h} at {args.fps:g} fps, camera {args.camera}; "
            f"{rows}x{cols} grid, row-major: {', '.join(env.skills)}; episode 0 of each skill, green border "
            "once it succeeded)"
        )
    return 0


def _policy_words(how: str) -> str:
    return "deterministic policy" if how == "mean" else "sampled policy"


def _meta_test(pol: dict, cfg: Any, args: argparse.Namespace) -> int:
    """``jaxmeta eval`` of an RL2 / PEARL run: `jaxmeta.meta_test.meta_test` (trials, no gradient step)."""
    from jaxmeta.meta_test import meta_test

    how = args.policy or cfg.eval_policy

    trials = args.episodes or cfg.eval_episodes
    per_trial = cfg.eval_episode_steps // cfg.max_path_length
    print(
        f"jaxmeta eval: {args.run} checkpoint {pol['step']} ({cfg.benchmark} {cfg.split} split, {cfg.algo}): {trials} "
        f"trial(s) of {per_trial} episodes per skill, {_policy_words(how)}, no gradient step, "
        f"key PRNGKey({args.seed}); success = the trial's last episode's; compiling ...",
        flush=True,
    )
    ev = meta_test(pol, cfg, split=cfg.split, trials=trials, seed=args.seed, how=how)
    res = EvalResult(
        skills=ev["skills"],
        episodes=trials,
        success=np.asarray(ev["success_per_skill"]),
        returns=np.asarray(ev["return_per_skill"]),
        episode_success=np.zeros((len(ev["skills"]), 0), bool),
    )
    print(format_table(res), flush=True)
    return 0


def _policy(args: argparse.Namespace):
    """(restore_policy result, TrainConfig) of the run's checkpoint; CheckpointError naming the problem
    (for a missing --checkpoint step, the steps there are)."""
    from pathlib import Path

    from jaxmeta.checkpoint import CKPT_DIR, CheckpointError, restore_policy

    try:
        pol = restore_policy(args.run, step=args.step, seed_index=args.seed_index)
    except CheckpointError as e:
        d = Path(args.run) / CKPT_DIR
        steps = sorted(int(c.name) for c in d.iterdir() if c.name.isdigit()) if d.is_dir() else []
        if args.step is not None and steps and args.step not in steps:
            raise CheckpointError(f"{e} (checkpoints there: {', '.join(map(str, steps))})") from e
        raise
    return pol, pol["config"]


def _scenes(env: Any, args: argparse.Namespace) -> list:
    """A `jaxmeta.render.SkillScene` per skill of `env` (RenderError for an unknown camera)."""
    from jaxmeta.render import SkillScene

    w, h = _tile_size(env.num_skills, args.size)
    return [SkillScene(e, args.camera, w, h) for e in env.envs]
