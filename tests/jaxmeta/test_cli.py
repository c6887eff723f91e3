"""jaxmeta.cli: flag validation fails fast (before any compile), dry runs, a tiny end-to-end run."""

from __future__ import annotations

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import json
import subprocess
import sys
import time

import pytest

from jaxmeta import cli
from jaxmeta import driver as driver_mod
from jaxmeta.checkpoint import latest_step, load_config

TOY = [
    "--benchmark",
    "toy/1",
    "--envs-per-skill",
    "4",
    "--max-path-length",
    "20",
    "--total-steps",
    "320",
    "--warmup-steps",
    "80",
    "--chunk-steps",
    "80",
    "--batch-size",
    "32",
    "--buffer-capacity",
    "2048",
    "--hidden",
    "32,32",
    "--eval-episodes",
    "2",
    "--eval-every",
    "160",
    "--no-progress",
]


@pytest.fixture
def no_compile(monkeypatch):
    """Fail the test if anything reaches the trainer or fine-tuner (i.e. would compile)."""
    import jaxmeta.finetune as finetune_mod

    def boom(*a, **k):
        raise AssertionError("reached training / compilation")

    monkeypatch.setattr(driver_mod, "train", boom)
    monkeypatch.setattr(finetune_mod, "finetune", boom)
    monkeypatch.setattr(driver_mod, "make_train", boom)
    monkeypatch.setattr(driver_mod, "compile_programs", boom)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--algo", "pearl2"], "invalid choice: 'pearl2'"),
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
        (["--layer-norm", "actor"], "invalid choice: 'actor'"),
        (["--eval-policy", "greedy"], "invalid choice: 'greedy'"),
        (["--algo", "paco", "--layer-norm", "critic"], "layer_norm='critic' is for the SAC networks; algo 'paco'"),
        (["--lr", "-1"], "actor_lr must be > 0"),
        (["--discount", "1.5"], r"discount must be in \[0, 1\]"),
        (["--seeds", "0"], "num_seeds must be an int >= 1, got 0"),
        (["--preset", "mt11"], "invalid choice: 'mt11'"),
        (["--resume", "--overwrite"], "not allowed with argument"),
        (["--warmup-steps", "10", "--total-steps", "5"], r"warmup_steps \(10\) must be <= total_steps \(5\)"),
        (["--devices", "0"], r"--devices must be in \[1, \d+\] \(the cpu devices of this process\), got 0"),
        (["--devices", "999"], r"--devices must be in \[1, \d+\].*got 999"),
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
    assert (
        cli.main(
            [
                "train",
                "--preset",
                "mt10",
                "--benchmark",
                "MT1/reach-v3",
                "--per",
                "--seeds",
                "3",
                "--updates-per-step",
                "1/4",
                "--total-steps",
                "2M",
                "--dry-run",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    cfg = json.loads(out[: out.rindex("}") + 1])
    assert cfg["per"] and cfg["num_seeds"] == 3 and cfg["total_steps"] == 2_000_000
    assert cfg["updates_per_step"] == 1 and cfg["steps_per_update"] == 4
    assert cfg["batch_size"] == 1280 and cfg["network"]["hidden"] == [400, 400, 400]
    assert cfg["network"]["layer_norm"] == "none"
    assert cli.main(["train", "--layer-norm", "critic", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[: out.rindex("}") + 1])["network"]["layer_norm"] == "critic"


def test_presets():
    from jaxmeta.config import preset

    d, m = preset("default"), preset("mt10")
    assert d.benchmark == "MT1/reach-v3"
    assert (m.benchmark, m.batch_size, m.network.hidden, m.buffer_capacity, m.total_steps, m.max_path_length) == (
        "MT10",
        1280,
        (400, 400, 400),
        1_000_000,
        20_000_000,
        500,
    )
    assert m.sac.actor_lr == m.sac.critic_lr == 3e-4 and m.sac.discount == 0.99 and m.network.num_skills == 10


def test_the_main_job_starts_from_mt1_fast(capsys, no_compile):
    """`jaxmeta train` (no --preset, MT-SAC) is the `mt1-fast` preset: `default` with 3-step returns and a
    LayerNorm critic; algorithms without a preset of their own start from `default`."""
    from jaxmeta.config import preset

    def dry(*args):
        assert cli.main(["train", *args, "--dry-run"]) == 0
        out = capsys.readouterr().out
        return json.loads(out[: out.rindex("}") + 1])

    fast = preset("mt1-fast")
    assert fast.n_step == 3 and fast.network.layer_norm == "critic"
    assert fast.replace(n_step=1, network=preset("default").network) == preset("default")
    for args in ([], ["--algo", "mtsac"]):
        assert dry(*args) == json.loads(json.dumps(fast.to_dict()))
    paco = dry("--algo", "paco")
    assert paco["n_step"] == 1 and paco["network"]["layer_norm"] == "none"


def test_tiny_end_to_end_and_resume(tmp_path, capsys, monkeypatch):
    """Issue 15: a run with a non-default seed, killed after a checkpoint, continues with a bare
    ``--resume --out DIR`` (the saved config, not the preset's defaults), then grows with --total-steps."""
    out = tmp_path / "run"
    real_train = driver_mod.train
    monkeypatch.setattr(driver_mod, "train", lambda cfg, **k: real_train(cfg, max_chunks=2, **k))  # "killed"
    assert cli.main(["train", *TOY, "--seed", "3", "--checkpoint-every", "160", "--out", str(out)]) == 1
    monkeypatch.setattr(driver_mod, "train", real_train)
    assert latest_step(out) == 160
    assert cli.main(["train", "--resume", "--out", str(out)]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["completed"] and s["resumed_from_chunk"] == 2 and s["chunks_run"] == 2 and "final_eval" in s
    assert load_config(out).seed == 3
    assert "env steps/s" in capsys.readouterr().out
    # extend the run: repeating its flags (equal values) is accepted, --total-steps grows it
    assert cli.main(["train", *TOY, "--seed", "3", "--out", str(out), "--resume", "--total-steps", "480"]) == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["completed"] and s["resumed_from_chunk"] == 4 and s["chunks_run"] == 2
    assert load_config(out).total_steps == 480


# ------------------------------------------------------------------------------ --resume: saved config
def _fake_run(path, cfg):
    """A run directory with config.json and a checkpoint folder: all --resume reads before compiling."""
    (path / "checkpoints" / "160").mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2))
    return path


@pytest.fixture
def saved_run(tmp_path):
    out = tmp_path / "run"
    return _fake_run(out, cli.build_config(cli.parser().parse_args(["train", *TOY, "--seed", "3", "--out", str(out)])))


ALLOWED = "--resume only accepts --total-steps, --eval-every, --eval-episodes, --eval-policy, --checkpoint-every, --out"


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--seed", "5"],
            r"^jaxmeta train: error: --seed 5 differs from the run's saved config \(seed 3\); " + ALLOWED,
        ),
        (["--seed", "0"], r"--seed 0 differs from the run's saved config \(seed 3\)"),  # = the preset's default
        (
            ["--seed", "3", "--hidden", "64,64"],
            r"--hidden 64,64 differs from the run's saved config "
            r"\(network\.hidden 32,32\);",
        ),
        (["--updates-per-step", "1/4"], r"--updates-per-step 1/4 differs .*\(updates_per_step 2, steps_per_update 1\)"),
        (
            ["--lr", "3e-4"],
            r"--lr 0\.0003 differs .*\(sac\.actor_lr 0\.001, sac\.critic_lr 0\.001, sac\.alpha_lr 0\.001\)",
        ),
        (["--per"], r"--per differs from the run's saved config \(per False\)"),
        (["--benchmark", "MT10", "--seed", "4"], r"--benchmark MT10 differs .*; --seed 4 differs .*; --resume only"),
        (
            ["--preset", "mt10"],
            r"--preset mt10 differs from the run's saved config \(.*benchmark toy/1 vs the "
            r"preset's MT10.*\); leave --preset out",
        ),
        (["--preset", "mt1-fast"], r"--preset mt1-fast differs"),  # the toy flags are not the preset's
        (["--total-steps", "40"], r"warmup_steps \(80\) must be <= total_steps \(40\)"),  # allowed, but invalid
    ],
)
def test_resume_flags_must_match_saved_config(saved_run, args, message, capsys, no_compile):
    t = time.perf_counter()
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "--resume", "--out", str(saved_run)] + args)
    assert e.value.code == 2
    assert time.perf_counter() - t < 5
    err = capsys.readouterr().err
    assert __import__("re").search(message, err), err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--seed", "3", "--hidden", "32,32", "--benchmark", "toy/1", "--updates-per-step", "2", "--lr", "1e-3"],
        ["--preset", "mt1-fast", *TOY, "--seed", "3"],  # the run's whole command line again (its preset)
        ["--no-progress"],
    ],
)
def test_resume_uses_saved_config(saved_run, args, capsys, no_compile):
    assert (
        cli.main(
            [
                "train",
                "--resume",
                "--out",
                str(saved_run),
                *args,
                "--total-steps",
                "640",
                "--eval-every",
                "320",
                "--dry-run",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    cfg = json.loads(out[: out.rindex("}") + 1])
    saved = load_config(saved_run).to_dict()
    assert cfg["seed"] == 3 and cfg["total_steps"] == 640 and cfg["eval_every"] == 320 and cfg["out"] == str(saved_run)
    assert {k: v for k, v in cfg.items() if k not in ("total_steps", "eval_every")} == {
        k: v for k, v in saved.items() if k not in ("total_steps", "eval_every")
    }


def test_resume_may_change_how_evaluations_act(saved_run, capsys, no_compile):
    """--eval-policy only changes evaluations (they leave the training state as it was): resumable."""
    assert cli.main(["train", "--resume", "--out", str(saved_run), "--eval-policy", "sample", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[: out.rindex("}") + 1])["eval_policy"] == "sample"
    assert load_config(saved_run).eval_policy == "mean"


def test_resume_needs_a_run_directory(tmp_path, capsys, no_compile):
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "--resume", "--seed", "3"])
    assert e.value.code == 2 and "--resume needs --out DIR" in capsys.readouterr().err
    (tmp_path / "checkpoints" / "160").mkdir(parents=True)  # checkpoints, but no config.json
    with pytest.raises(SystemExit) as e:
        cli.main(["train", "--resume", "--out", str(tmp_path)])
    assert e.value.code == 2 and "not a jaxmeta run directory" in capsys.readouterr().err


def test_every_flag_is_config_or_known(no_compile):
    """A new flag must be added to cli.TRAIN_FLAGS / FINETUNE_FLAGS (or be non-config): --resume checks them."""
    for command, table in (("train", cli.TRAIN_FLAGS), ("finetune", cli.FINETUNE_FLAGS)):
        dests = set(vars(cli.parser().parse_args([command])))
        train_only = {"preset"} | cli._DISTRIBUTED_FLAGS if command == "train" else set()
        assert dests == {s.dest for s in table} | cli._NOT_CONFIG | train_only


@pytest.fixture
def saved_finetune_run(tmp_path, saved_run):
    from jaxmeta.config import FinetuneConfig

    src = load_config(saved_run)
    out = tmp_path / "ft"
    ft = FinetuneConfig(
        source=str(saved_run.resolve()), step=160, source_benchmark=src.benchmark, source_skills=src.skill_space
    )
    return _fake_run(out, src.replace(finetune=ft, warmup_steps=0, checkpoint_every=0, out=str(out)))


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--seed", "5"],
            r"^jaxmeta finetune: error: --seed 5 differs from the run's saved config \(seed 3\); "
            r"--resume only accepts --total-steps, --eval-every, --eval-episodes, --out",
        ),
        (["--updates-per-step", "1"], r"--updates-per-step 1 differs .*\(updates_per_step 2, steps_per_update 1\)"),
        (["--seed-index", "0", "--keep-buffer"], r"--keep-buffer differs .*\(finetune\.keep_buffer False\)"),
        (["--from", "elsewhere"], r"--from elsewhere differs .*\(finetune\.source "),
        (["--no-source-eval"], r"--no-source-eval differs .*\(finetune\.eval_source True\)"),
    ],
)
def test_finetune_resume_flags_must_match_saved_config(saved_finetune_run, args, message, capsys, no_compile):
    with pytest.raises(SystemExit) as e:
        cli.main(["finetune", "--resume", "--out", str(saved_finetune_run)] + args)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert __import__("re").search(message, err), err


def test_finetune_resume_uses_saved_config(saved_run, saved_finetune_run, capsys, no_compile):
    assert (
        cli.main(
            [
                "finetune",
                "--resume",
                "--out",
                str(saved_finetune_run),
                "--seed",
                "3",
                "--warmup-steps",
                "0",
                "--seed-index",
                "0",
                "--from",
                str(saved_run),
                "--total-steps",
                "5k",
                "--dry-run",
            ]
        )
        == 0
    )
    cfg = json.loads((out := capsys.readouterr().out)[: out.rindex("}") + 1])
    assert cfg["total_steps"] == 5000 and cfg["seed"] == 3 and cfg["finetune"]["step"] == 160
    with pytest.raises(SystemExit) as e:  # a fine-tuning run resumes with `jaxmeta finetune`, and vice versa
        cli.main(["train", "--resume", "--out", str(saved_finetune_run)])
    assert e.value.code == 2 and "is a fine-tuning run" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        cli.main(["finetune", "--resume", "--out", str(saved_run)])
    assert e.value.code == 2 and "is not a fine-tuning run" in capsys.readouterr().err


def test_python_dash_m_help():
    r = subprocess.run(
        [sys.executable, "-m", "jaxmeta", "train", "--help"], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0 and "--resume" in r.stdout and "--updates-per-step" in r.stdout
