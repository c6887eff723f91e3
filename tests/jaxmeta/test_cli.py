"""jaxmeta.cli: flag validation fails fast (before any compile), dry runs, a tiny end-to-end run."""
from __future__ import annotations

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import json
import subprocess
import sys
import time

import pytest

from jaxmeta import cli
from jaxmeta import train as train_mod

TOY = ["--benchmark", "toy/1", "--envs-per-skill", "4", "--max-path-length", "20", "--total-steps", "320",
       "--warmup-steps", "80", "--chunk-steps", "80", "--batch-size", "32", "--buffer-capacity", "2048",
       "--hidden", "32,32", "--eval-episodes", "2", "--eval-every", "160", "--no-progress"]


@pytest.fixture
def no_compile(monkeypatch):
    """Fail the test if anything reaches the trainer (i.e. would compile)."""

    def boom(*a, **k):
        raise AssertionError("reached training / compilation")

    monkeypatch.setattr(train_mod, "train", boom)
    monkeypatch.setattr(train_mod, "make_train", boom)
    monkeypatch.setattr(train_mod, "compile_programs", boom)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--algo", "ppo"], "invalid choice: 'ppo'"),
        (["--benchmark", "MT11"], "unknown benchmark 'MT11'"),
        (["--benchmark", "MT1/reach-v9"], "unknown skill 'reach-v9'"),
        (["--benchmark", "MT1/hammer-v3"], "not ported to MJX yet"),
        (["--benchmark", "toy/x"], "toy/<num_skills>"),
        (["--batch-size", "300", "--buffer-capacity", "200"], r"batch_size \(300\) must be <= buffer_capacity \(200\)"),
        (["--total-steps", "-5"], "total_steps must be an int >= 1, got -5"),
        (["--total-steps", "1.5"], "not an integer count"),
        (["--envs-per-skill", "0"], "envs_per_skill must be an int >= 1, got 0"),
        (["--per", "--balanced"], "exclusive"),
        (["--updates-per-step", "0"], "must be > 0"),
        (["--updates-per-step", "a/b"], "not a ratio"),
        (["--hidden", "a,b"], "comma-separated ints"),
        (["--lr", "-1"], "actor_lr must be > 0"),
        (["--discount", "1.5"], r"discount must be in \[0, 1\]"),
        (["--seeds", "0"], "num_seeds must be an int >= 1, got 0"),
        (["--preset", "mt11"], "invalid choice: 'mt11'"),
        (["--resume", "--overwrite"], "not allowed with argument"),
        (["--warmup-steps", "10", "--total-steps", "5"], r"warmup_steps \(10\) must be <= total_steps \(5\)"),
    ],
)
def test_invalid_flags_fail_fast(args, message, capsys, no_compile, monkeypatch):
    from envs.skills import _MODULES

    monkeypatch.delitem(_MODULES, "hammer-v3", raising=False)  # the "not ported" row needs an unported skill
    t = time.perf_counter()
    with pytest.raises(SystemExit) as e:
        cli.main(["train"] + args)
    assert e.value.code == 2
    assert time.perf_counter() - t < 5
    err = capsys.readouterr().err
    assert __import__("re").search(message, err), err


def test_resume_without_checkpoint_fails_fast(tmp_path, capsys, no_compile):
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "--benchmark", "toy/1", "--out", str(tmp_path / "x"), "--resume"])
    assert e.value.code == 2 and "nothing to resume" in capsys.readouterr().err


def test_nonempty_out_refused_fast(tmp_path, capsys, no_compile):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "--benchmark", "toy/1", "--out", str(tmp_path)])
    assert e.value.code == 2 and "is not empty" in capsys.readouterr().err
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_dry_run_prints_resolved_config(capsys, no_compile):
    assert cli.main(["train", "--preset", "mt10", "--benchmark", "MT1/reach-v3", "--per", "--seeds", "3",
                     "--updates-per-step", "1/4", "--total-steps", "2M", "--dry-run"]) == 0
    out = capsys.readouterr().out
    cfg = json.loads(out[: out.rindex("}") + 1])
    assert cfg["per"] and cfg["num_seeds"] == 3 and cfg["total_steps"] == 2_000_000
    assert cfg["updates_per_step"] == 1 and cfg["steps_per_update"] == 4
    assert cfg["batch_size"] == 1280 and cfg["network"]["hidden"] == [400, 400, 400]


def test_presets():
    from jaxmeta.config import preset

    d, m = preset("default"), preset("mt10")
    assert d.benchmark == "MT1/reach-v3"
    assert (m.benchmark, m.batch_size, m.network.hidden, m.buffer_capacity, m.total_steps, m.max_path_length) == (
        "MT10", 1280, (400, 400, 400), 1_000_000, 20_000_000, 500)
    assert m.sac.actor_lr == m.sac.critic_lr == 3e-4 and m.sac.discount == 0.99 and m.network.num_tasks == 10


def test_tiny_end_to_end_and_resume(tmp_path, capsys):
    out = tmp_path / "run"
    assert cli.main(["train", *TOY, "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["completed"] and s["chunks_run"] == 4 and "final_eval" in s
    assert "env steps/s" in capsys.readouterr().out
    # extend the run: resume with more total steps
    assert cli.main(["train", *TOY, "--out", str(out), "--resume", "--total-steps", "480"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["completed"] and s["resumed_from_chunk"] == 4 and s["chunks_run"] == 2


def test_python_dash_m_help():
    r = subprocess.run([sys.executable, "-m", "jaxmeta", "train", "--help"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0 and "--resume" in r.stdout and "--updates-per-step" in r.stdout
