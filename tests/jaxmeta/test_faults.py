"""Faults (issue 20): corrupt / incomplete checkpoints fall back to the newest intact one, --from-step,
corrupt config.json / metrics.csv, failed checkpoint writes (disk full, unwritable directory), errors a
person can read (library detail in <run>/error.log), NaN / inf injected into rewards, observations (so
actions) and losses, and PaCo's mask-out / w-reset under an injected loss spike. Toy runs only."""

from __future__ import annotations

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import errno
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from jaxmeta import cli
from jaxmeta import driver as driver_mod
from jaxmeta import train as train_mod
from jaxmeta.checkpoint import CheckpointError, checkpoint_steps, read_checkpoint
from jaxmeta.config import TrainConfig
from jaxmeta.metrics_log import MetricsFileError
from jaxmeta.networks import NetworkConfig
from jaxmeta.train import train
from tests.jaxmeta.run_helpers import metrics_rows

KW = dict(
    benchmark="toy/2",
    envs_per_skill=4,
    max_path_length=20,
    total_steps=800,
    warmup_steps=160,
    chunk_steps=160,
    batch_size=32,
    buffer_capacity=2048,
    network=NetworkConfig(hidden=(32, 32)),
    eval_episodes=2,
    eval_every=320,
    checkpoint_every=320,
    keep_checkpoints=3,
)
STEPS = [320, 640, 800]  # checkpoints of the 5-chunk run (every 2 chunks, and the last)


def cfg_at(path, **kw) -> TrainConfig:
    return TrainConfig(**{**KW, **kw, "out": str(path)})


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """An uninterrupted run (the reference) in a directory the tests copy."""
    d = tmp_path_factory.mktemp("faults") / "base"
    train(cfg_at(d), progress=False)
    assert checkpoint_steps(d) == STEPS
    return d


def copy(base, tmp_path, name="run"):
    d = tmp_path / name
    shutil.copytree(base, d)
    return d


def garble(step_dir, item="state"):
    """Overwrite the data files of a checkpoint item with random bytes (same sizes)."""
    files = [f for f in (step_dir / item / "d").iterdir() if f.is_file()]
    assert files
    rng = np.random.default_rng(0)
    for f in files:
        f.write_bytes(rng.integers(0, 256, f.stat().st_size, dtype=np.uint8).tobytes())


def final_arrays(run_dir, step=800):
    return read_checkpoint(run_dir, step)["state"]


def assert_same_run(a, b):
    assert metrics_rows(a) == metrics_rows(b)
    sa, sb = final_arrays(a), final_arrays(b)
    assert sa.keys() == sb.keys()
    for k in sa:
        x, y = np.asarray(sa[k]), np.asarray(sb[k])
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), k


@pytest.fixture
def no_compile(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("reached compilation")

    monkeypatch.setattr(driver_mod, "compile_programs", boom)


def run_cli(argv, capsys):
    with pytest.raises(SystemExit) as ex:
        cli.main(argv)
    err = capsys.readouterr().err
    return ex.value.code, err


# ------------------------------------------------------------------------------ 1. corrupt checkpoints
def test_corrupt_latest_checkpoint_falls_back_to_the_newest_intact_one(base, tmp_path):
    d = copy(base, tmp_path)
    garble(d / "checkpoints" / "800")
    lines = []
    s = train(cfg_at(d), progress=False, resume=True, log=lines.append)
    assert s["completed"] and s["resumed_from_chunk"] == 4
    warn = [x for x in lines if x.startswith("warning:")]
    assert len(warn) == 1 and "checkpoint 800" in warn[0] and "resuming from checkpoint 640" in warn[0]
    assert "error.log" in warn[0] and len(warn[0].splitlines()) == 1
    # read (and found corrupt) before anything compiled
    assert lines.index(warn[0]) < next(i for i, x in enumerate(lines) if x.startswith("compiling"))
    assert (d / "checkpoints-discarded" / "800" / "state").is_dir()  # moved, not deleted
    assert "Traceback" in (d / "error.log").read_text()
    assert_same_run(base, d)


def test_corrupt_checkpoint_is_found_before_compiling(base, tmp_path, no_compile):
    d = copy(base, tmp_path)
    for step in STEPS:
        garble(d / "checkpoints" / str(step))
    with pytest.raises(CheckpointError, match="no intact checkpoint") as ex:
        train(cfg_at(d), progress=False, resume=True)
    msg = str(ex.value)
    assert all(str(s) in msg for s in STEPS) and "error.log" in msg and "\n" not in msg
    assert checkpoint_steps(d) == STEPS  # nothing moved when nothing can be resumed
    # a corrupt policy item (what restore_policy / fine-tuning read) also makes a checkpoint unusable
    d2 = copy(base, tmp_path, "pol")
    garble(d2 / "checkpoints" / "800", "policy")
    with pytest.raises(AssertionError, match="reached compilation"):
        train(cfg_at(d2), progress=False, resume=True)
    assert checkpoint_steps(d2) == [320, 640]


def test_incomplete_checkpoint_and_interrupted_write_are_skipped(base, tmp_path):
    d = copy(base, tmp_path)
    ck = d / "checkpoints"
    shutil.rmtree(ck / "800" / "state")  # a checkpoint directory missing files
    # what a write of 800 killed midway leaves: orbax's temporary directory (renamed only when complete),
    # which the resumed run's own write of 800 replaces
    tmp = ck / "800.orbax-checkpoint-tmp"
    shutil.copytree(ck / "640", tmp)
    shutil.rmtree(tmp / "meta")
    lines = []
    s = train(cfg_at(d), progress=False, resume=True, log=lines.append)
    assert s["completed"] and s["resumed_from_chunk"] == 4
    assert any("checkpoint 800 is unusable (incomplete: no state)" in x and "checkpoint 640" in x for x in lines)
    assert_same_run(base, d)


def test_from_step(base, tmp_path, capsys):
    d = copy(base, tmp_path)
    lines = []
    s = train(cfg_at(d), progress=False, resume=True, from_step=320, log=lines.append)
    assert s["completed"] and s["resumed_from_chunk"] == 2 and s["chunks_run"] == 3
    assert any("resuming from checkpoint 320" in x for x in lines)
    assert sorted(p.name for p in (d / "checkpoints-discarded").iterdir()) == ["640", "800"]
    assert_same_run(base, d)
    # a step that is not there: an error listing the steps there (before anything compiles)
    with pytest.raises(CheckpointError, match=r"no checkpoint at step 500 .*the checkpoints there: 320, 640, 800"):
        train(cfg_at(base), progress=False, resume=True, from_step=500)
    code, err = run_cli(["train", "--resume", "--from-step", "500", "--out", str(base)], capsys)
    assert code == 2 and "the checkpoints there: 320, 640, 800" in err and len(err.strip().splitlines()) == 1
    code, err = run_cli(["train", "--benchmark", "toy/2", "--from-step", "320", "--out", str(tmp_path / "x")], capsys)
    assert code == 2 and "needs --resume" in err
    # an explicitly chosen checkpoint that is corrupt is an error, not a silent fall-back
    d2 = copy(base, tmp_path, "bad")
    garble(d2 / "checkpoints" / "640")
    with pytest.raises(CheckpointError, match="checkpoint 640 .* is unusable .*choose another with --from-step"):
        train(cfg_at(d2), progress=False, resume=True, from_step=640)
    assert checkpoint_steps(d2) == STEPS


def test_cli_resume_of_a_corrupt_checkpoint_prints_one_line(base, tmp_path):
    d = copy(base, tmp_path)
    for step in STEPS:
        garble(d / "checkpoints" / str(step))
    # a real process: what reaches its console (library threads included) is one line
    p = subprocess.run(
        [sys.executable, "-m", "jaxmeta", "train", "--resume", "--out", str(d)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    err = p.stdout + p.stderr
    assert p.returncode == 2 and len(err.strip().splitlines()) == 1, err
    assert "no intact checkpoint" in err and "error.log" in err
    assert "Traceback" not in err and "tensorstore" not in err.lower() and len(err) < 600
    assert "Traceback" in (d / "error.log").read_text()


def test_corrupt_config_json(base, tmp_path, capsys):
    d = copy(base, tmp_path)
    garbage = b'{"benchmark": "toy/2", "envs_per\x00\xff'
    (d / "config.json").write_bytes(garbage)
    code, err = run_cli(["train", "--resume", "--out", str(d)], capsys)
    assert code == 2 and len(err.strip().splitlines()) <= 2
    assert "config.json" in err and "is corrupt" in err and "move it away" in err
    assert (d / "config.json").read_bytes() == garbage  # nothing of the user's touched
    assert checkpoint_steps(d) == STEPS
    # what the message says to do: without config.json, --resume takes the config of the newest checkpoint
    (d / "config.json").rename(d / "config.json.bad")
    assert cli.main(["train", "--resume", "--out", str(d), "--no-progress"]) == 0
    assert json.loads((d / "config.json").read_text())["total_steps"] == 800


def test_corrupt_metrics_csv(base, tmp_path, no_compile):
    d = copy(base, tmp_path)
    text = (d / "metrics.csv").read_text().splitlines(keepends=True)
    bad = text[:3] + ["train,x7,0,1\n"] + text[3:]
    (d / "metrics.csv").write_text("".join(bad))
    with pytest.raises(MetricsFileError, match=r"metrics.csv' line 4 .*move it away"):
        train(cfg_at(d), progress=False, resume=True)
    assert (d / "metrics.csv").read_text() == "".join(bad)
    (d / "metrics.csv").write_text("garbage\n" + "".join(text[1:]))
    with pytest.raises(MetricsFileError, match="corrupt header"):
        train(cfg_at(d), progress=False, resume=True)


def test_torn_last_metrics_row_is_dropped(base, tmp_path):
    """A kill during a metrics.csv append leaves a short last row (of a chunk after the checkpoint)."""
    d = copy(base, tmp_path)
    rows = metrics_rows(base)
    text = (d / "metrics.csv").read_text()
    (d / "metrics.csv").write_text(text + text.splitlines(keepends=True)[-1][:25])
    shutil.rmtree(d / "checkpoints" / "800")  # resume from 640: the rows of chunk 5 and the torn one go
    s = train(cfg_at(d), progress=False, resume=True)
    assert s["completed"] and metrics_rows(d) == rows


# ---------------------------------------------------------------------- 2. failed checkpoint writes
def _failing_save(monkeypatch, exc, after=1):
    """orbax's CheckpointManager.save writes `after` checkpoints, then fails like a full disk / an
    unwritable directory would: a partial temporary directory is left and `exc` raised."""
    import orbax.checkpoint as ocp

    real = ocp.CheckpointManager.save
    calls = []

    def save(self, step, *a, **k):
        calls.append(step)
        if len(calls) <= after:
            return real(self, step, *a, **k)
        part = self.directory / f"{step}.orbax-checkpoint-tmp" / "state"
        part.mkdir(parents=True)
        (part / "manifest.ocdbt").write_bytes(b"\x00" * 10)
        raise exc

    monkeypatch.setattr(ocp.CheckpointManager, "save", save)
    return calls


def test_disk_full_during_a_checkpoint(base, tmp_path, monkeypatch):
    d = tmp_path / "run"
    _failing_save(monkeypatch, OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)))
    with pytest.raises(CheckpointError) as ex:
        train(cfg_at(d), progress=False)
    msg = str(ex.value)
    assert "could not write checkpoint 640" in msg and "the disk is full" in msg and "free space" in msg
    assert "checkpoint 320 is intact" in msg and "--resume" in msg and "error.log" in msg
    assert "No space left on device" in (d / "error.log").read_text()
    assert checkpoint_steps(d) == [320]
    monkeypatch.undo()
    s = train(cfg_at(d), progress=False, resume=True)  # the partial write is ignored
    assert s["completed"] and s["resumed_from_chunk"] == 2
    assert_same_run(base, d)


def test_unwritable_checkpoint_directory(base, tmp_path, monkeypatch):
    d = tmp_path / "run"
    train(cfg_at(d), progress=False, max_chunks=2)  # checkpoint 320
    ck = d / "checkpoints"
    if os.geteuid() == 0:  # root writes through chmod: simulate what the write would raise
        _failing_save(monkeypatch, PermissionError(errno.EACCES, os.strerror(errno.EACCES)), after=0)
    else:
        ck.chmod(0o555)
    try:
        with pytest.raises(
            CheckpointError,
            match=r"could not write checkpoint 640 .*not writable; checkpoint 320 "
            r"is intact: make it writable, then continue with --resume",
        ):
            train(cfg_at(d), progress=False, resume=True)
    finally:
        ck.chmod(0o755)
        monkeypatch.undo()
    assert 320 in checkpoint_steps(d)
    s = train(cfg_at(d), progress=False, resume=True)
    assert s["completed"]
    assert_same_run(base, d)


# ----------------------------------------------------------------------------- 3. readable errors
def test_unexpected_error_prints_two_lines_and_logs_the_traceback(base, tmp_path, capsys, monkeypatch):
    d = copy(base, tmp_path)

    def fail(*a, **k):
        raise RuntimeError("INTERNAL: something deep failed\n" + "spec: {...}\n" * 60)

    monkeypatch.setattr(driver_mod, "train", fail)
    code, err = run_cli(["train", "--resume", "--out", str(d)], capsys)
    lines = err.strip().splitlines()
    assert code == 1 and len(lines) == 2
    assert "RuntimeError: INTERNAL: something deep failed" in lines[0] and "error.log" in lines[1]
    log = (d / "error.log").read_text()
    assert "Traceback" in log and log.count("spec: {...}") >= 60


def test_finetune_from_step(base, tmp_path, capsys):
    from jaxmeta.finetune import finetune, finetune_config

    out = tmp_path / "ft"
    cfg = finetune_config(
        str(base), benchmark="toy/2", total_steps=640, eval_every=320, checkpoint_every=320, out=str(out)
    )
    assert finetune(cfg, progress=False)["completed"]
    steps, rows = checkpoint_steps(out), metrics_rows(out)
    assert len(steps) >= 2
    code, err = run_cli(["finetune", "--resume", "--from-step", "999", "--out", str(out)], capsys)
    assert code == 2 and f"the checkpoints there: {', '.join(map(str, steps))}" in err
    code, err = run_cli(
        ["finetune", "--from", str(base), "--benchmark", "toy/2", "--from-step", "320", "--out", str(tmp_path / "ft2")],
        capsys,
    )
    assert code == 2 and "needs --resume" in err
    assert cli.main(["finetune", "--resume", "--from-step", str(steps[0]), "--out", str(out), "--no-progress"]) == 0
    assert f"resuming from checkpoint {steps[0]}" in capsys.readouterr().out
    assert metrics_rows(out) == rows  # the resumed fine-tuning recomputes the same chunks
    assert sorted(int(p.name) for p in (out / "checkpoints-discarded").iterdir()) == steps[1:]


def test_aborted_storage_task_records_stay_off_the_console(caplog):
    """asyncio's "Task / Future exception was never retrieved" for an aborted TensorStore read (what GC
    reports after a corrupt checkpoint's first array failed) is dropped; any other asyncio error still
    shows."""
    import logging

    from jaxmeta.checkpoint import _quiet_closed_loop_errors

    _quiet_closed_loop_errors()
    aio = logging.getLogger("asyncio")
    storage = ValueError('DATA_LOSS: Error reading "000057/.zarray" in OCDBT database [tensorstore_spec=...]')
    other = ValueError("a bug of someone's own task")
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        for what in ("Task", "Future"):
            for e in (storage, other):
                aio.error(
                    f"{what} exception was never retrieved\nfuture: <{what} finished ...>", exc_info=(type(e), e, None)
                )
        aio.error("Unclosed client session")
    messages = [(r.getMessage().splitlines()[0], r.exc_info[1] if r.exc_info else None) for r in caplog.records]
    assert messages == [
        ("Task exception was never retrieved", other),
        ("Future exception was never retrieved", other),
        ("Unclosed client session", None),
    ]


# ------------------------------------------------------------------------------ non-finite updates
def test_a_non_finite_update_is_not_applied_and_counted():
    """sampled_update: a finite update is returned as update_fn made it (bitwise); one whose new state
    has a NaN anywhere leaves the state as it was (integer leaves included) and reports nonfinite_update."""
    import jax
    import jax.numpy as jnp

    from jaxmeta.learner import all_finite, sampled_update
    from jaxmeta.replay import make_replay
    from jaxmeta.sac import Transition

    buf = make_replay(16, 2, "uniform")
    ex = Transition(
        obs=jnp.zeros(3),
        action=jnp.zeros(2),
        reward=jnp.zeros(()),
        next_obs=jnp.zeros(3),
        discount=jnp.ones(()),
        skill_id=jnp.zeros((), jnp.int32),
    )
    items = jax.tree.map(lambda x: jnp.broadcast_to(x, (16,) + x.shape), ex).replace(reward=jnp.arange(16.0))
    good = buf.add(buf.init(ex), items)
    bad = buf.add(buf.init(ex), items.replace(reward=items.reward.at[::2].set(jnp.nan)))  # every other item

    def update_fn(state, batch, key, weights):
        new = {"w": state["w"] * 0.5 + jnp.sum(batch.reward), "n": state["n"] + 1}
        return new, {"loss": jnp.sum(batch.reward)}, batch.reward

    upd = jax.jit(sampled_update(update_fn, buf, 8, per=False))
    s0 = {"w": jnp.array([1.0, 2.0, 3.0]), "n": jnp.int32(0)}
    key = jax.random.PRNGKey(0)
    s1, _, m1 = upd(s0, good, key)
    batch, _ = buf.sample(good, jax.random.split(key)[0], 8)
    want = update_fn(s0, batch, None, None)[0]
    assert float(m1["nonfinite_update"]) == 0.0 and int(s1["n"]) == 1
    assert np.asarray(s1["w"]).tobytes() == np.asarray(want["w"]).tobytes()
    s2, _, m2 = upd(s1, bad, key)  # 8 of 16 items NaN: a batch of 8 almost surely holds one
    assert float(m2["nonfinite_update"]) == 1.0 and np.isnan(float(m2["loss"]))
    assert int(s2["n"]) == 1 and np.asarray(s2["w"]).tobytes() == np.asarray(s1["w"]).tobytes()
    assert bool(all_finite({"a": jnp.ones(2), "i": jnp.int32(7)})) and not bool(all_finite([jnp.array([1.0, jnp.inf])]))


def _poisoned_run(tmp_path, monkeypatch, name, poison):
    """A toy run (8 envs, 480 env steps, no checkpoints / evaluations) whose env step is passed through
    `poison(new_state)`; returns its train rows of metrics.csv and its full final state."""
    from envs.toy import ToyMultiTaskEnv
    from tests.jaxmeta.run_helpers import restore_full_state

    step = ToyMultiTaskEnv.step
    monkeypatch.setattr(ToyMultiTaskEnv, "step", lambda self, state, actions: poison(step(self, state, actions)))
    d = tmp_path / name
    cfg = cfg_at(d, total_steps=480, eval_every=0, checkpoint_every=480)
    train(cfg, progress=False)
    return [r for r in metrics_rows(d) if r["kind"] == "train"], restore_full_state(d, cfg)[0]


def _assert_all_finite(ts):
    import jax
    import jax.numpy as jnp

    floats = [x for x in jax.tree.leaves((ts.agent, ts.replay)) if jnp.issubdtype(x.dtype, jnp.floating)]
    assert floats and all(np.isfinite(np.asarray(x)).all() for x in floats)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_rewards_never_reach_the_replay_or_the_parameters(tmp_path, monkeypatch, bad):
    """Env 0 of 8 returns a NaN (+inf) reward on every step: each of its 20 transitions per 160-step chunk
    is dropped before the replay and counted (metrics.csv nonfinite_transition == 20), no update is
    poisoned (nonfinite_update == 0), and the replay, parameters and optimizer state stay finite."""
    rows, ts = _poisoned_run(tmp_path, monkeypatch, "reward", lambda new: new.replace(reward=new.reward.at[0].set(bad)))
    assert [float(r["nonfinite_transition"]) for r in rows] == [20.0] * 3, rows
    assert all(r["nonfinite_update"] in ("", "0.0") for r in rows), rows
    assert int(ts.replay.size) == 480 - 3 * 20  # 7 of 8 envs' transitions
    _assert_all_finite(ts)


def test_overflowing_losses_are_skipped_and_never_reach_the_parameters(tmp_path, monkeypatch):
    """Env 0 returns a finite but huge reward (1e30) on every step: the transitions are stored (nothing
    is non-finite), the squared TD error (and the gradient) overflows float32, so the updates
    that sample them come out inf / NaN: they are skipped and counted (nonfinite_update > 0 in every
    chunk with updates) and the parameters and optimizer state stay finite."""
    rows, ts = _poisoned_run(tmp_path, monkeypatch, "huge", lambda new: new.replace(reward=new.reward.at[0].set(1e30)))
    assert [float(r["nonfinite_transition"]) for r in rows] == [0.0] * 3, rows
    assert all(0.0 < float(r["nonfinite_update"]) <= 1.0 for r in rows), rows
    assert int(ts.replay.size) == 480
    _assert_all_finite(ts)  # (the stored 1e30 rewards are finite too)


def test_nan_observations_are_counted_and_never_reach_the_replay_or_the_parameters(tmp_path, monkeypatch):
    """Env 0 of 8 observes a NaN (in obs and final_obs) on every step: its transitions are dropped and
    counted, and once the policy acts (after the warm-up chunk of uniform random actions) its action for
    env 0 is NaN on each of its 20 steps, which the env zeroes and counts (4 entries each: metrics.csv
    nonfinite_action == 80); the replay and the learner state stay finite."""
    import jax.numpy as jnp

    rows, ts = _poisoned_run(
        tmp_path,
        monkeypatch,
        "obs",
        lambda new: new.replace(obs=new.obs.at[0, 0].set(jnp.nan), final_obs=new.final_obs.at[0, 0].set(jnp.nan)),
    )
    assert [float(r["nonfinite_action"]) for r in rows] == [0.0, 80.0, 80.0], rows
    assert [float(r["nonfinite_transition"]) for r in rows] == [20.0] * 3, rows
    assert int(ts.replay.size) == 480 - 3 * 20
    _assert_all_finite(ts)


# ------------------------------------------------------------------------- PaCo under a loss spike
def _paco_counters_after(monkeypatch, spike: float | None):
    """Two chunks of PaCo (K = 2 parameter sets, the paper's extreme-loss threshold 3e3) on toy/2, with
    skill 1's rewards multiplied by `spike` (None: untouched). Returns (chunk metrics, final state)."""
    import jax
    import jax.numpy as jnp

    from envs.toy import ToyMultiTaskEnv
    from jaxmeta.paco import DEFAULT_LOSS_THRESHOLD, PaCoOptions

    if spike is not None:
        step = ToyMultiTaskEnv.step

        def spiked_step(self, state, actions):
            new = step(self, state, actions)
            return new.replace(reward=jnp.where(new.skill_id == 1, new.reward * spike, new.reward))

        monkeypatch.setattr(ToyMultiTaskEnv, "step", spiked_step)
    cfg = TrainConfig(
        **{
            **KW,
            "algo": "paco",
            "checkpoint_every": 0,
            "eval_every": 0,
            "paco": PaCoOptions(num_param_sets=2, loss_threshold=DEFAULT_LOSS_THRESHOLD),
        }
    )
    tr = train_mod.make_train(cfg)
    ts = jax.jit(tr.init)(tr.seed_key(0))
    chunk = jax.jit(tr.chunk)
    ms = []
    for _ in range(3):
        ts, m = chunk(ts)
        ms.append(jax.device_get(m))
    return ms, ts


def test_paco_masks_out_and_resets_only_the_task_whose_loss_spikes(monkeypatch):
    """PaCo's mask-out and w-reset (paper 002 Sec. IV-C) exercised by an injected loss spike: without it no
    task is ever masked or reset; with skill 1's rewards x 1e4 its critic loss passes the threshold, so
    skill 1 is masked out in every chunk with updates and its w reset (only skill 1: skill 0 stays valid
    and is never reset), every parameter stays finite, and skill 1's w after the last reset is skill 0's
    (Eqn. (3)'s convex combination of the valid tasks' w, with one valid task)."""
    import jax
    import jax.numpy as jnp

    from jaxmeta.paco import get_w

    calm, ts_calm = _paco_counters_after(monkeypatch, None)
    assert all(float(m["paco_num_masked"]) == 0.0 for m in calm)
    assert np.asarray(ts_calm.agent.paco.counters.resets_per_skill).tolist() == [0, 0]
    monkeypatch.undo()

    spiked, ts = _paco_counters_after(monkeypatch, 1e4)
    assert all(int(m["updates"]) > 0 and float(m["paco_num_masked"]) > 0.0 for m in spiked), spiked
    resets = np.asarray(ts.agent.paco.counters.resets_per_skill)
    assert resets[0] == 0 and resets[1] > 0, resets
    assert float(ts.agent.paco.counters.total_resets) == float(resets.sum())
    leaves = jax.tree.leaves(ts.agent)
    assert all(np.isfinite(np.asarray(x)).all() for x in leaves if jnp.issubdtype(x.dtype, jnp.floating))
    w = np.asarray(get_w(ts.agent.paco.sac.actor_params))  # (T, K)
    assert w.shape == (2, 2) and np.isfinite(w).all()
    assert w[1].tobytes() == w[0].tobytes()  # Eqn. (3) with one valid task: its w, copied
