"""jaxmeta.tensorboard (CRC32C, the record / Event bytes, writer -> reader) and the run logging built on
it: a tiny resumed 2-seed toy run's TensorBoard scalars and (fake) W&B logs equal its metrics.csv."""

from __future__ import annotations

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import csv
import json
import math
import struct
import sys
import types

import numpy as np
import pytest

from jaxmeta import cli
from jaxmeta import driver as driver_mod
from jaxmeta import train as train_mod
from jaxmeta.checkpoint import Checkpointer, latest_step, prepare_run_dir
from jaxmeta.config import TrainConfig
from jaxmeta.metrics_log import ROW_KEYS
from jaxmeta.networks import NetworkConfig
from jaxmeta.tensorboard import EventWriter, crc32c, masked_crc32c, read_scalars


def test_crc32c_known_vectors():
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    assert crc32c(b"") == 0
    assert crc32c(bytes(32)) == 0x8A9136AA  # RFC 3720 B.4
    assert crc32c(b"\xff" * 32) == 0x62A8AB43
    assert crc32c(bytes(range(32))) == 0x46DD794E
    assert masked_crc32c(b"") == 0xA282EAD8  # ((0 >> 15) | (0 << 17)) + 0xa282ead8
    c = 0xE3069283
    assert masked_crc32c(b"123456789") == (((c >> 15) | (c << 17)) + 0xA282EAD8) % 2**32


def _records(path) -> list[bytes]:
    buf, out, i = path.read_bytes(), [], 0
    while i < len(buf):
        (n,) = struct.unpack_from("<Q", buf, i)
        assert struct.unpack_from("<I", buf, i + 8)[0] == masked_crc32c(buf[i : i + 8])
        data = buf[i + 12 : i + 12 + n]
        assert struct.unpack_from("<I", buf, i + 12 + n)[0] == masked_crc32c(data)
        out.append(data)
        i += 16 + n
    assert i == len(buf)
    return out


def test_event_file_bytes(tmp_path):
    with EventWriter(tmp_path) as w:
        w.add_scalar("a", 1.0, 3, wall_time=2.0)
    (path,) = tmp_path.iterdir()
    assert path.name.startswith("events.out.tfevents.") and path.name.endswith(".jaxmeta")
    assert path.name.split(".")[3].isdigit()
    version, scalar = _records(path)
    # Event{wall_time (1, double), step (2, varint) 0, file_version (3, string) "brain.Event:2"}
    assert version[0] == 0x09 and version[9:] == b"\x10\x00" + b"\x1a\x0d" + b"brain.Event:2"
    assert scalar == (
        b"\x09"
        + b"\x00\x00\x00\x00\x00\x00\x00\x40"  # wall_time 2.0
        + b"\x10\x03"  # step 3
        + b"\x2a\x0a"  # summary (5), 10 bytes
        + b"\x0a\x08"  # Summary.value (1), 8 bytes
        + b"\x0a\x01a"  # Value.tag (1) "a"
        + b"\x15\x00\x00\x80\x3f"
    )  # Value.simple_value (2, float) 1.0
    length = struct.pack("<Q", 23)
    assert path.read_bytes()[-39:] == (
        length + struct.pack("<I", masked_crc32c(length)) + scalar + struct.pack("<I", masked_crc32c(scalar))
    )


def test_writer_reader_round_trip(tmp_path):
    with EventWriter(tmp_path / "run", purge_step=None) as w:
        w.add_scalar("train/x", 0.1, 0)
        w.add_scalar("train/x", -2.5, 100)
        w.add_scalar("eval/eval_success/reach-v3", 1, 100)
        w.add_scalar("neg", 7.0, -4)
    (first,) = (tmp_path / "run").iterdir()
    logged = [
        ("train/x", 0, float(np.float32(0.1))),
        ("train/x", 100, -2.5),
        ("eval/eval_success/reach-v3", 100, 1.0),
        ("neg", -4, 7.0),
    ]
    assert read_scalars(first) == logged
    data = first.read_bytes()
    # a writer with purge_step: what it logs replaces the steps >= purge_step read before (a resumed run;
    # its own file, or the same one continued when it starts in the same second of the same process)
    with EventWriter(tmp_path / "run", purge_step=50) as w:
        w.add_scalar("train/x", 3.0, 100)
    assert read_scalars(tmp_path / "run") == [logged[0], logged[3], ("train/x", 100, 3.0)]
    assert first.read_bytes().startswith(data)
    # a truncated last record ends the file; a flipped byte is an error
    first.write_bytes(data[:-3])
    assert read_scalars(first) == logged[:3]
    first.write_bytes(data[:40] + bytes([data[40] ^ 1]) + data[41:])
    with pytest.raises(ValueError, match="CRC"):
        read_scalars(first)


def test_overwrite_removes_only_jaxmeta_event_files(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "wandb_run_id").write_text("abc")
    (run / "wandb").mkdir()
    (run / "wandb" / "offline-run").write_text("not synced yet")
    for seed in (0, 1):
        EventWriter(run / "tb" / f"seed_{seed}").close()
    (run / "tb" / "seed_1" / "notes.txt").write_text("mine")
    (run / "tb" / "torch").mkdir()
    (run / "tb" / "torch" / "events.out.tfevents.1.host.7").write_text("another writer's")
    prepare_run_dir(TrainConfig(benchmark="toy/1", out=str(run)), overwrite=True)
    left = sorted(str(p.relative_to(run)) for p in run.rglob("*") if p.is_file())
    assert left == ["tb/seed_1/notes.txt", "tb/torch/events.out.tfevents.1.host.7", "wandb/offline-run"]
    assert not (run / "tb" / "seed_0").exists()


# ----------------------------------------------------------------------------------- a resumed run
class _FakeRun:
    def __init__(self, kwargs: dict, run_id: str):
        self.kwargs, self.id, self.logged, self.finished = kwargs, run_id, [], False

    def log(self, data, step=None):
        self.logged.append((step, dict(data)))

    def finish(self):
        self.finished = True


class _FakeWandb(types.ModuleType):
    """Records `wandb.init` calls; each returns a run recording its `log` / `finish` calls."""

    def __init__(self):
        super().__init__("wandb")
        self.runs: list[_FakeRun] = []

    def init(self, **kwargs):
        self.runs.append(_FakeRun(kwargs, kwargs.get("id") or f"run{len(self.runs)}"))
        return self.runs[-1]


TINY = dict(
    benchmark="toy/2",
    num_seeds=2,
    envs_per_skill=4,
    max_path_length=20,
    total_steps=640,
    warmup_steps=160,
    chunk_steps=160,
    batch_size=32,
    buffer_capacity=2048,
    network=NetworkConfig(hidden=(32, 32)),
    eval_episodes=2,
    eval_every=320,
    checkpoint_every=320,
)


@pytest.fixture(scope="module")
def resumed_run(tmp_path_factory):
    """A 4-chunk 2-seed run with --wandb, killed after chunk 3 before its checkpoint reached the disk,
    then resumed from chunk 2 (the resumed process logs chunks 3 and 4 again)."""
    run = tmp_path_factory.mktemp("tb") / "run"
    cfg = TrainConfig(**TINY, out=str(run))
    fake = _FakeWandb()
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "wandb", fake)
        mp.setenv("WANDB_MODE", "offline")
        train_mod.train(cfg, progress=False, max_chunks=3, wandb=True)
        ck = Checkpointer(run, keep=10)
        ck._mngr.delete(480)
        ck.close()
        assert latest_step(run) == 320
        summary = train_mod.train(cfg, progress=False, resume=True, wandb=True)
    assert summary["completed"] and summary["resumed_from_chunk"] == 2
    with open(run / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    return run, rows, fake


def _scalars(row: dict) -> dict[str, float]:
    """The numbers of a metrics.csv row as ``<kind>/<column>`` scalars."""
    return {
        f"{row['kind']}/{k}": float(v)
        for k, v in row.items()
        if k not in ROW_KEYS and v != "" and math.isfinite(float(v))
    }


def test_tensorboard_scalars_equal_metrics_csv(resumed_run):
    run, rows, _ = resumed_run
    assert sorted(p.name for p in (run / "tb").iterdir()) == ["seed_0", "seed_1"]
    assert {r["chunk"] for r in rows} == {"1", "2", "3", "4"} and len(rows) == 2 * (4 + 2)
    for seed in (0, 1):
        assert len(list((run / "tb" / f"seed_{seed}").iterdir())) == 2  # one event file per process
        want = [
            (tag, int(r["env_steps"]), float(np.float32(v)))
            for r in rows
            if r["seed"] == str(seed)
            for tag, v in _scalars(r).items()
        ]
        got = read_scalars(run / "tb" / f"seed_{seed}")
        assert got == want
    tags = {t for t, _, _ in got}
    assert {
        "train/episode_success",
        "train/critic_loss",
        "train/train_success/toy-0",
        "train/wall_s",
        "eval/eval_success",
        "eval/eval_success/toy-1",
        "eval/updates",
    } <= tags
    assert not {t for t in tags if t.split("/", 1)[1] in ROW_KEYS}


def test_wandb_logs_config_and_the_same_scalars(resumed_run):
    run, rows, fake = resumed_run
    first, second = fake.runs
    config = json.loads((run / "config.json").read_text())
    for r in fake.runs:
        assert json.loads(json.dumps(r.kwargs["config"])) == config
        assert r.kwargs["dir"] == str(run) and r.kwargs["name"] == "run" and r.finished
        assert "mode" not in r.kwargs  # WANDB_MODE (offline here) is wandb's to read
    assert first.kwargs["id"] is None and (second.kwargs["id"], second.kwargs["resume"]) == ("run0", "allow")
    assert (run / "wandb_run_id").read_text() == "run0"

    def expected(rs):
        return [(int(r["env_steps"]), {f"seed_{r['seed']}/{k}": v for k, v in _scalars(r).items()}) for r in rs]

    kept = [r for r in rows if int(r["chunk"]) <= 2]
    assert first.logged[: len(kept)] == expected(kept)
    assert [step for step, _ in first.logged[len(kept) :]] == [480, 480]  # chunk 3 (train rows), later dropped
    assert second.logged == expected([r for r in rows if int(r["chunk"]) > 2])
    assert "seed_1/eval/eval_success/toy-0" in second.logged[-1][1]


# --------------------------------------------------------------------------------------------- CLI
@pytest.fixture
def no_train(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("reached training")

    monkeypatch.setattr(driver_mod, "train", boom)
    monkeypatch.setattr(driver_mod, "make_train", boom)


@pytest.mark.parametrize("command", ["train", "finetune"])
def test_wandb_flag_without_the_package_fails_at_parsing(command, monkeypatch, capsys, no_train):
    monkeypatch.setitem(sys.modules, "wandb", None)  # `import wandb` raises ImportError
    with pytest.raises(SystemExit) as e:
        cli.main([command, "--benchmark", "toy/1", "--wandb", "--dry-run"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "argument --wandb" in err and "wandb package" in err and "pip install wandb" in err


def test_wandb_flag_reaches_train_and_is_accepted_with_resume(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "wandb", _FakeWandb())
    calls = []
    monkeypatch.setattr(driver_mod, "train", lambda cfg, **k: calls.append((cfg, k)) or {"completed": True})
    out = tmp_path / "run"
    assert cli.main(["train", "--benchmark", "toy/1", "--out", str(out), "--wandb", "--no-progress"]) == 0
    assert calls[-1][1]["wandb"] is True
    assert cli.main(["train", "--benchmark", "toy/1", "--out", str(tmp_path / "b"), "--no-progress"]) == 0
    assert calls[-1][1]["wandb"] is False
    # --wandb is a logging option, not configuration: --resume accepts it
    (out / "checkpoints" / "160").mkdir(parents=True)
    (out / "config.json").write_text(json.dumps(calls[0][0].to_dict()))
    assert cli.main(["train", "--resume", "--out", str(out), "--wandb"]) == 0
    assert calls[-1][1]["wandb"] is True and calls[-1][0] == calls[0][0]
