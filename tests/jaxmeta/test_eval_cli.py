"""``jaxmeta eval`` (jaxmeta.eval_cli, jaxmeta.render): the per-skill table equals jaxmeta's own evaluation of
the same checkpoint and key, bad arguments fail fast with one line, and ``--video`` renders a tiny trained
MT1/reach-v3 run. The video runs go through subprocesses: MuJoCo picks its GL backend once, when it is first
imported, and this test process may have imported it already; they are skipped only where no GL backend
works (probed explicitly, `gl`)."""

from __future__ import annotations

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import ctypes.util
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

from jaxmeta import cli, eval_cli
from jaxmeta.render import gl_backend, mark_success, tile, write_video

TOY = [
    "--benchmark",
    "toy/2",
    "--envs-per-skill",
    "4",
    "--max-path-length",
    "20",
    "--total-steps",
    "20000",
    "--warmup-steps",
    "400",
    "--chunk-steps",
    "4000",
    "--checkpoint-every",
    "8000",
    "--batch-size",
    "64",
    "--buffer-capacity",
    "8192",
    "--hidden",
    "32,32",
    "--eval-episodes",
    "2",
    "--eval-every",
    "0",
    "--no-progress",
]
REACH_STEPS = 10  # max path length of the reach run: frames of its video
REACH = [
    "--benchmark",
    "MT1/reach-v3",
    "--envs-per-skill",
    "2",
    "--max-path-length",
    str(REACH_STEPS),
    "--total-steps",
    "40",
    "--warmup-steps",
    "20",
    "--chunk-steps",
    "20",
    "--batch-size",
    "8",
    "--buffer-capacity",
    "64",
    "--hidden",
    "8,8",
    "--eval-episodes",
    "2",
    "--eval-every",
    "0",
    "--no-progress",
]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """A trained toy/2 run with its last two checkpoints, at 16000 and 20000 env steps (mixed success rates)."""
    out = tmp_path_factory.mktemp("eval") / "toy"
    assert cli.main(["train", *TOY, "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def reach_run(tmp_path_factory):
    """A tiny trained MT1/reach-v3 run (a real MuJoCo scene to render)."""
    out = tmp_path_factory.mktemp("eval") / "reach"
    assert cli.main(["train", *REACH, "--out", str(out)]) == 0
    return out


def _headless_env(**extra) -> dict:
    """This process's environment without a display or GL choice (what a headless user has)."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("MUJOCO_GL", "DISPLAY", "WAYLAND_DISPLAY", "PYOPENGL_PLATFORM")
    }
    return {**env, **extra}


def _eval(args: list[str], **env) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "jaxmeta", "eval", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_headless_env(**env),
        timeout=600,
    )


@pytest.fixture(scope="module")
def gl():
    """The GL backend `jaxmeta eval --video` picks here; skips when none works (with the CLI's reason)."""
    r = subprocess.run(
        [sys.executable, "-c", "from jaxmeta.render import check_gl, select_gl; select_gl(); print(check_gl())"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_headless_env(),
        timeout=120,
    )
    if r.returncode != 0:
        pytest.skip(f"no GL backend works here: {r.stderr.strip().splitlines()[-1]}")
    return r.stdout.strip()


def _table(text: str) -> dict[str, tuple[int, float, float]]:
    """{skill or "mean": (episodes, success, mean return)} of a printed eval table."""
    rows = {}
    for line in text.splitlines():
        m = re.fullmatch(r"(\S+)\s+(\d+)\s+(\d\.\d{3})\s+(-?\d+\.\d{2})", line)
        if m:
            rows[m[1]] = (int(m[2]), float(m[3]), float(m[4]))
    return rows


# ------------------------------------------------------------------------------------- the table
@pytest.mark.parametrize("step", [16000, None])
def test_table_equals_jaxmeta_evaluation(toy_run, step, capsys, monkeypatch):
    """The CLI's numbers are those of `make_evaluate` / `evaluate_checkpoint` on the same checkpoint and key."""
    from jaxmeta.checkpoint import restore_policy
    from jaxmeta.config import ALGOS
    from jaxmeta.evaluate import evaluate_checkpoint, make_evaluate
    from jaxmeta.train import make_env

    seen = []
    summarize = eval_cli.summarize
    monkeypatch.setattr(eval_cli, "summarize", lambda *a: seen.append(summarize(*a)) or seen[-1])
    args = ["eval", str(toy_run), "--episodes", "6", "--seed", "3"] + (
        [] if step is None else ["--checkpoint", str(step)]
    )
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    (res,) = seen
    assert res.skills == ("toy-0", "toy-1") and res.episodes == 6
    assert f"checkpoint {step or 20000} (toy/2, mtsac): 6 episode(s) per skill of 20 steps" in out

    pol = restore_policy(toy_run, step=step, seed_index=0)
    cfg = pol["config"]
    ev = jax.jit(make_evaluate(make_env(cfg, 6), ALGOS[cfg.algo].make_learner(cfg).networks, cfg.max_path_length))
    ev = jax.device_get(ev(pol["actor_params"], jax.random.PRNGKey(3)))
    np.testing.assert_allclose(res.success, ev["success_per_skill"], atol=1e-6)
    np.testing.assert_allclose(res.returns, ev["return_per_skill"], rtol=1e-5)
    ec = evaluate_checkpoint(str(toy_run), episodes=6, seed=3, step=step)
    assert ec["step"] == (step or 20000)
    np.testing.assert_allclose([ec["success_per_skill"][s] for s in res.skills], res.success, atol=1e-6)

    table = _table(out)
    assert table == {
        s: (6, round(float(sr), 3), round(float(r), 2)) for s, sr, r in zip(res.skills, res.success, res.returns)
    } | {"mean": (6, round(res.mean_success, 3), round(res.mean_return, 2))}
    assert out.rstrip().endswith(eval_cli.format_table(res))


def test_sampled_policy_table(toy_run, capsys, monkeypatch):
    """``--policy sample``: the policy's samples act (keys from PRNGKey(--seed)): the same table for the same
    seed, other returns than the mean's, and the header says so."""
    seen = []
    summarize = eval_cli.summarize
    monkeypatch.setattr(eval_cli, "summarize", lambda *a: seen.append(summarize(*a)) or seen[-1])
    for how in ("sample", "sample", "mean"):
        assert cli.main(["eval", str(toy_run), "--episodes", "6", "--seed", "3", "--policy", how]) == 0
        assert ("sampled policy" if how == "sample" else "deterministic policy") in capsys.readouterr().out
    a, b, mean = seen
    np.testing.assert_array_equal(a.returns, b.returns)
    assert not np.array_equal(a.returns, mean.returns)


def test_summarize_counts_an_episode_as_success_if_any_step_succeeds():
    L, T, E = 4, 2, 3
    success = np.zeros((L, T * E), bool)
    success[2, 0] = success[0, 0] = True  # skill 0 episode 0: two successful steps, counted once
    success[3, 4] = True  # skill 1 episode 1, on the last step
    reward = np.arange(L * T * E, dtype=np.float32).reshape(L, T * E)
    res = eval_cli.summarize({"success": success, "reward": reward}, ("a", "b"), E)
    np.testing.assert_array_equal(res.episode_success, [[True, False, False], [False, True, False]])
    np.testing.assert_allclose(res.success, [1 / 3, 1 / 3])
    np.testing.assert_allclose(res.returns, reward.sum(0).reshape(T, E).mean(1))
    assert res.mean_success == pytest.approx(1 / 3)


# --------------------------------------------------------------------------------- bad arguments
@pytest.fixture
def no_rollout(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("reached the rollout (compile)")

    monkeypatch.setattr(eval_cli, "make_rollout", boom)


@pytest.mark.parametrize(
    "args, message",
    [
        (["{tmp}/missing"], r"run directory '.*missing' does not exist"),
        (["{tmp}/empty"], r"no config\.json in '.*empty': not a jaxmeta run directory"),
        (["{tmp}/no-ckpt"], r"no checkpoint in '.*no-ckpt/checkpoints'"),
        (["{tmp}/corrupt"], r"checkpoint '.*corrupt/checkpoints/40' is unreadable or corrupt"),
        (["{toy}", "--checkpoint", "5000"], r"no checkpoint 5000 in .* \(checkpoints there: 16000, 20000\)"),
        (["{toy}", "--checkpoint", "-1"], r"argument --checkpoint/--step: must be an int >= 0, got '-1'"),
        (["{toy}", "--episodes", "0"], r"argument --episodes: must be an int >= 1, got '0'"),
        (["{toy}", "--episodes", "2.5"], r"argument --episodes: must be an int >= 1, got '2\.5'"),
        (["{toy}", "--seed-index", "1"], r"seed_index 1 out of range: the run has 1 seed"),
        (["{toy}", "--video", "{tmp}/x.avi"], r"the file name must end in \.mp4 or \.gif"),
        (["{toy}", "--video", "{tmp}/nowhere/x.gif"], r"folder '.*nowhere' does not exist"),
        (["{toy}", "--video", "{tmp}/x.gif"], r"toy/2 has no MuJoCo scene to render"),
        (["{toy}", "--video", "{tmp}/x.gif", "--size", "33x24"], r"--size: must be WIDTHxHEIGHT with even numbers"),
        (["{toy}", "--video", "{tmp}/x.gif", "--fps", "0"], r"--fps: must be a number in \(0, 1000\]"),
    ],
)
def test_bad_arguments_fail_fast(toy_run, tmp_path, args, message, capsys, no_rollout):
    (tmp_path / "empty").mkdir()
    (tmp_path / "no-ckpt").mkdir()
    shutil.copy(toy_run / "config.json", tmp_path / "no-ckpt" / "config.json")
    (tmp_path / "corrupt" / "checkpoints" / "40").mkdir(parents=True)
    shutil.copy(toy_run / "config.json", tmp_path / "corrupt" / "config.json")
    args = [a.format(tmp=tmp_path, toy=toy_run) for a in args]
    t = time.perf_counter()
    with pytest.raises(SystemExit) as e:
        cli.main(["eval", *args])
    assert e.value.code == 2
    assert time.perf_counter() - t < 5
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("jaxmeta eval: error: ")  # one line (after argparse's usage)


def test_unknown_gl_backend_is_named(toy_run, tmp_path, capsys, monkeypatch, no_rollout):
    monkeypatch.setenv("MUJOCO_GL", "nope")
    with pytest.raises(SystemExit) as e:
        cli.main(["eval", str(toy_run), "--video", str(tmp_path / "x.gif")])
    assert e.value.code == 2
    assert "MUJOCO_GL=nope cannot render: use one of egl, osmesa, glfw" in capsys.readouterr().err


@pytest.mark.skipif(ctypes.util.find_library("OSMesa") is not None, reason="OSMesa is installed here")
def test_missing_gl_library_names_the_debian_packages(reach_run, tmp_path):
    """No libOSMesa here: MUJOCO_GL=osmesa fails with the packages to install, not a traceback."""
    r = _eval([str(reach_run), "--video", str(tmp_path / "x.mp4")], MUJOCO_GL="osmesa")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    assert re.search(
        r"jaxmeta eval: error: no OpenGL with MUJOCO_GL=osmesa .*needs the Debian packages libosmesa6 "
        r"\(apt-get install libosmesa6\); other backends: MUJOCO_GL=egl .*libegl1 libegl-mesa0",
        r.stderr,
    )
    assert not (tmp_path / "x.mp4").exists()


# --------------------------------------------------------------------------------------- --video
def test_video_of_a_trained_reach_run(reach_run, gl, tmp_path):
    """``--video PATH.mp4`` (headless: MUJOCO_GL unset, no DISPLAY): one frame per env step of the skill's
    first episode, at the tile size asked for; the table is printed as without --video."""
    if importlib.util.find_spec("imageio_ffmpeg") is None:
        pytest.skip("imageio-ffmpeg is not installed (pip install -e '.[video]'; scripts/install.sh installs it)")
    import imageio.v3 as iio

    path = tmp_path / "reach.mp4"
    r = _eval([str(reach_run), "--episodes", "2", "--video", str(path), "--size", "160x120", "--camera", "corner3"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert set(_table(r.stdout)) == {"reach-v3", "mean"} and _table(r.stdout)["reach-v3"][0] == 2
    assert f"video: {path} ({REACH_STEPS} frames of 160x120 at 25 fps, camera corner3; 1x1 grid" in r.stdout
    frames = iio.imread(path, index=None, plugin="FFMPEG")
    assert frames.shape == (REACH_STEPS, 120, 160, 3)
    assert frames.std() > 10  # a scene, not a blank image


def test_unknown_camera_lists_the_cameras(reach_run, gl, tmp_path):
    r = _eval([str(reach_run), "--video", str(tmp_path / "x.gif"), "--camera", "nope"])
    assert r.returncode == 2
    assert "jaxmeta eval: error: reach-v3 has no camera 'nope'; cameras: topview, corner, corner2" in r.stderr
    assert "Traceback" not in r.stderr


# ------------------------------------------------------------------------------- pure frame helpers
def test_gl_backend_choice():
    assert gl_backend({}) == "egl"
    assert gl_backend({"DISPLAY": ":0"}) == "glfw"
    assert gl_backend({"WAYLAND_DISPLAY": "wayland-0"}) == "glfw"
    assert gl_backend({"DISPLAY": ":0", "MUJOCO_GL": " OSMesa "}) == "osmesa"


def test_tile_and_success_border():
    videos = [np.full((2, 4, 6, 3), k + 1, np.uint8) for k in range(3)]
    grid = tile(videos)
    assert grid.shape == (2, 8, 12, 3)  # 2x2 grid, row-major, the fourth tile black
    assert (grid[:, :4, :6] == 1).all() and (grid[:, :4, 6:] == 2).all() and (grid[:, 4:, :6] == 3).all()
    assert (grid[:, 4:, 6:] == 0).all()
    frames = np.zeros((3, 10, 12, 3), np.uint8)
    marked = mark_success(frames, [False, True, True])
    assert (marked[0] == 0).all() and (frames == 0).all()
    assert (marked[1:, 0] != 0).all() and (marked[1:, :, -1] != 0).all() and (marked[1:, 5, 5] == 0).all()


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_write_video_round_trip(tmp_path, suffix):
    if suffix == ".mp4" and importlib.util.find_spec("imageio_ffmpeg") is None:
        pytest.skip("imageio-ffmpeg is not installed (pip install -e '.[video]')")
    import imageio.v3 as iio

    frames = np.zeros((5, 24, 32, 3), np.uint8)
    for t in range(5):
        frames[t, :, : 6 * (t + 1)] = 255  # distinct frames (a GIF merges identical ones)
    write_video(tmp_path / f"v{suffix}", frames, fps=25)
    back = iio.imread(tmp_path / f"v{suffix}", index=None, plugin="FFMPEG" if suffix == ".mp4" else "pillow")
    assert back.shape[:3] == (5, 24, 32)
    np.testing.assert_allclose(back[..., :3].astype(float), frames, atol=40)


def test_eval_help_lists_its_flags(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["eval", "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for flag in ("RUN", "--episodes", "--checkpoint", "--video", "--camera", "--size", "--fps", "--seed-index"):
        assert flag in out
