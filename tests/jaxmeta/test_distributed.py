"""Multi-process training (issue 21, docs/distributed.md): `jaxmeta train` over 2 local processes x 1 CPU
device (gloo collectives) gives the metrics and final state of one process over 2 host devices, bit for
bit; so does a run whose processes were killed after a checkpoint and resumed. Plus the flags' and the
coordinating helpers' contracts in one process."""

from __future__ import annotations

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from jaxmeta import cli, distributed
from jaxmeta.checkpoint import CheckpointError, read_checkpoint, restore_policy
from jaxmeta.distributed import DistributedSpec, spec_from_flags
from jaxmeta.metrics_log import MetricsLog
from tests.jaxmeta.run_helpers import metrics_rows

REPO = Path(__file__).resolve().parents[2]
TOY = [
    "--benchmark",
    "toy/2",
    "--envs-per-skill",
    "4",
    "--max-path-length",
    "20",
    "--total-steps",
    "1920",
    "--warmup-steps",
    "160",
    "--chunk-steps",
    "160",
    "--batch-size",
    "32",
    "--buffer-capacity",
    "2048",
    "--hidden",
    "32,32",
    "--eval-episodes",
    "2",
    "--eval-every",
    "640",
    "--checkpoint-every",
    "160",
]
REACH = [
    "--benchmark",
    "MT1/reach-v3",
    "--envs-per-skill",
    "4",
    "--total-steps",
    "4000",
    "--warmup-steps",
    "1000",
    "--chunk-steps",
    "1000",
    "--batch-size",
    "64",
    "--hidden",
    "64,64",
    "--eval-episodes",
    "4",
    "--eval-every",
    "2000",
    "--checkpoint-every",
    "1000",
]


# ------------------------------------------------------------------------------------------ helpers
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(devices: int) -> dict:
    """This process's environment with `devices` host devices per child process (the device-count flag
    `envs` put in XLA_FLAGS here is dropped: an explicit one would win over JAXMETA_CPU_DEVICES)."""
    flags = " ".join(
        f for f in os.environ.get("XLA_FLAGS", "").split() if not f.startswith("--xla_force_host_platform_device_count")
    )
    return {**os.environ, "XLA_FLAGS": flags, "JAXMETA_CPU_DEVICES": str(devices), "PYTHONPATH": str(REPO)}


def _train_cmd(out: Path, args: list[str]) -> list[str]:
    return [sys.executable, "-m", "jaxmeta", "train", "--out", str(out), "--no-progress", *args]


def single_process(out: Path, args: list[str]) -> subprocess.CompletedProcess:
    """The reference: one process over 2 host devices."""
    p = subprocess.run(
        _train_cmd(out, [*args, "--devices", "2"]), env=_env(2), capture_output=True, text=True, timeout=900, cwd=REPO
    )
    assert p.returncode == 0, p.stdout + p.stderr
    return p


def launch(out: Path, args: list[str], n: int = 2) -> list[subprocess.Popen]:
    port = _free_port()
    return [
        subprocess.Popen(
            _train_cmd(
                out, [*args, "--coordinator", f"127.0.0.1:{port}", "--num-processes", str(n), "--process-id", str(i)]
            ),
            env=_env(1),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=REPO,
        )
        for i in range(n)
    ]


def finish(procs: list[subprocess.Popen], timeout: float = 900) -> list[str]:
    outs = [p.communicate(timeout=timeout)[0] for p in procs]
    for p, o in zip(procs, outs):
        assert p.returncode == 0, o
    return outs


def assert_same_run(a: Path, b: Path) -> None:
    assert metrics_rows(a) == metrics_rows(b)
    sa, sb = read_checkpoint(a)["state"], read_checkpoint(b)["state"]
    assert sa.keys() == sb.keys()
    for k in sa:
        np.testing.assert_array_equal(np.asarray(sa[k]), np.asarray(sb[k]), err_msg=k)


def kill_after_first_checkpoint(
    out: Path, procs: list[subprocess.Popen], timeout: float = 600, only_one: bool = False
) -> None:
    """SIGKILL process 1 once the run's first checkpoint is complete (while the run goes on), then process 0
    too, or (only_one) wait for process 0 to fail by itself: JAX's coordination service misses process 1's
    heartbeats (100 s) and aborts it."""
    t0 = time.monotonic()
    ck = out / "checkpoints"
    while not (ck.is_dir() and any(p.name.isdigit() and (p / "_CHECKPOINT_METADATA").is_file() for p in ck.iterdir())):
        assert all(p.poll() is None for p in procs), [p.communicate()[0] for p in procs]
        assert time.monotonic() - t0 < timeout
        time.sleep(0.02)
    procs[1].send_signal(signal.SIGKILL)
    if only_one:
        out0 = procs[0].communicate(timeout=300)[0]
        assert procs[0].returncode != 0 and "heartbeat" in out0, out0[-2000:]
    else:
        procs[0].send_signal(signal.SIGKILL)
        procs[0].communicate(timeout=60)
        assert procs[0].returncode == -signal.SIGKILL  # (still running: the kill interrupted it)
    procs[1].communicate(timeout=60)
    assert procs[1].returncode == -signal.SIGKILL


def check_multi_process(tmp_path: Path, args: list[str], only_one: bool = False) -> None:
    ref = tmp_path / "one-process"
    single_process(ref, args)
    whole = tmp_path / "two-processes"
    outs = finish(launch(whole, args))
    assert "sharded over 2 devices of 2 processes" in outs[0] and "done:" in outs[0]
    assert "done:" not in outs[1] and "jaxmeta train:" not in outs[1]  # process 0 speaks for the run
    assert_same_run(ref, whole)
    # the checkpoint of 2 processes' devices reads on this process's devices (host arrays)
    pa, pb = restore_policy(ref)["actor_params"], restore_policy(whole)["actor_params"]
    import jax

    assert all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(pa), jax.tree.leaves(pb)))
    # killed after its first checkpoint, both processes resumed
    cut = tmp_path / "killed-resumed"
    kill_after_first_checkpoint(cut, launch(cut, args), only_one=only_one)
    outs = finish(launch(cut, [*args, "--resume"]))
    assert "resumed from chunk" in outs[0]
    assert_same_run(ref, cut)


# ----------------------------------------------------------------------------------------- the proof
def test_two_processes_equal_one_process_over_two_devices_toy(tmp_path):
    check_multi_process(tmp_path, TOY)


@pytest.mark.slow
def test_two_processes_equal_one_process_over_two_devices_reach(tmp_path):
    check_multi_process(tmp_path, REACH, only_one=True)  # (process 0 dies of the missing heartbeats: ~100 s)


def test_a_batch_that_does_not_split_over_the_processes_is_an_error(tmp_path):
    args = [a if a != "4" else "3" for a in TOY[:4]] + TOY[4:]  # 3 envs per skill over 2 devices
    outs = [p.communicate(timeout=300)[0] for p in launch(tmp_path / "run", args)]
    for o in outs:
        assert "envs_per_skill (3) and batch_size (32) must be multiples of 2" in o, o
        assert "Traceback" not in o


# --------------------------------------------------------------------------------- flags and helpers
def test_spec_from_flags():
    assert spec_from_flags(False, environ={}) is None
    assert spec_from_flags(True, environ={}) == DistributedSpec()
    env = {"JAX_COORDINATOR_ADDRESS": "node0:1234", "JAX_NUM_PROCESSES": "4", "JAX_PROCESS_ID": "3"}
    assert spec_from_flags(True, environ=env) == DistributedSpec("node0:1234", 4, 3)
    # an explicit flag implies --distributed and wins over the variables
    assert spec_from_flags(False, process_id=1, environ=env) == DistributedSpec("node0:1234", 4, 1)
    assert spec_from_flags(False, "[::1]:99", 2, 0, environ={}) == DistributedSpec("[::1]:99", 2, 0)
    with pytest.raises(ValueError, match="JAX_NUM_PROCESSES must be an integer, got 'four'"):
        spec_from_flags(True, environ={"JAX_NUM_PROCESSES": "four"})


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(coordinator="node0"), "coordinator must be host:port .*got 'node0'"),
        (dict(coordinator="node0:0"), r"port must be in \[1, 65535\], got 'node0:0'"),
        (dict(num_processes=0), "num_processes must be an int >= 1, got 0"),
        (dict(num_processes=2, process_id=2), r"process_id must be an int in \[0, num_processes = 2\), got 2"),
        (dict(process_id=-1), "process_id must be an int in .*got -1"),
    ],
)
def test_bad_specs_name_the_value(kw, match):
    with pytest.raises(ValueError, match=match):
        DistributedSpec(**kw)


def test_cli_rejects_bad_distributed_flags_before_anything_starts(capsys):
    for argv, msg in (
        (["--num-processes", "2", "--process-id", "5"], "got 5"),
        (["--coordinator", "localhost"], "got 'localhost'"),
    ):
        with pytest.raises(SystemExit) as e:
            cli.main(["train", "--benchmark", "toy/2", *argv])
        err = capsys.readouterr().err
        assert e.value.code == 2 and msg in err and len(err.strip().splitlines()) == 1


def test_one_process_helpers_are_plain_calls():
    assert distributed.process_count() == 1 and distributed.is_primary()
    assert distributed.agree(lambda: {"a": 1}) == {"a": 1}
    assert distributed.gather(lambda: 7) == [7]
    distributed.barrier()
    with pytest.raises(CheckpointError, match="boom"):
        distributed.agree(lambda: (_ for _ in ()).throw(CheckpointError("boom")))
    import jax.numpy as jnp

    out = distributed.to_host({"x": jnp.arange(3), "y": 2.0})
    assert isinstance(out["x"], np.ndarray) and out["x"].tolist() == [0, 1, 2] and float(out["y"]) == 2.0


def test_a_read_only_metrics_log_writes_nothing(tmp_path):
    log = MetricsLog(tmp_path, ["a"], writer=False)
    log.start(None)
    log.log_train(1, {"env_steps": np.array([10]), "updates": np.array([1])}, 1.0, 10.0)
    log.write_summary({"x": 1})
    assert log.plot() is None and list(tmp_path.iterdir()) == []
