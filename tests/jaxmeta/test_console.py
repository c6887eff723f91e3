"""A clean console (envs._console): no MJX warp import lines, XLA's C++ log lines (the slow-compile
banner) off unless the user sets TF_CPP_MIN_LOG_LEVEL, errors still raised; no numpy NaN warnings."""

from __future__ import annotations

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import io
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

from envs import _console
from jaxmeta.metrics_log import nanmean

ENV = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
NOISE = re.compile(r"Failed to import|warp|Mean of empty slice|slow compile|RuntimeWarning", re.IGNORECASE)
# XLA logs C++ errors ("E... dump.cc:...] Could not create directory") when it cannot write its dumps
DUMP_ERRORS = {"XLA_FLAGS": "--xla_dump_to=/proc/jaxmeta-no-such-dir/x"}
PROBE = """
import jaxmeta, os
from mujoco import mjx
import jax, jax.numpy as jnp
print(os.environ["TF_CPP_MIN_LOG_LEVEL"], float(jax.jit(lambda x: 2 * x)(jnp.ones(3)).sum()))
try:  # a real XLA error still raises
    jax.jit(lambda: jax.ffi.ffi_call("jaxmeta_no_such_target", jax.ShapeDtypeStruct((), jnp.float32))())()
except Exception as e:
    print("raised", type(e).__name__, "No FFI handler" in str(e))
"""


def _python(code: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env={**ENV, **env})


def test_import_prints_nothing_and_hides_xla_log_lines():
    r = _python(PROBE, **DUMP_ERRORS)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.splitlines() == ["3 6.0", "raised JaxRuntimeError True"], r.stdout
    assert not NOISE.search(r.stdout + r.stderr), r.stdout + r.stderr[-3000:]  # no warp lines
    assert "Could not create directory" not in r.stderr and "dump.cc" not in r.stderr  # no XLA C++ log lines


def test_user_log_level_is_kept():
    r = _python(PROBE, TF_CPP_MIN_LOG_LEVEL="1", **DUMP_ERRORS)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.splitlines()[0] == "1 6.0"
    assert "Could not create directory" in r.stderr  # XLA's C++ errors show when asked for
    assert "warp" not in r.stdout + r.stderr


def test_warp_filter_drops_exactly_the_two_lines():
    out = io.StringIO()
    f = _console._LineFilter(out, _console.WARP_NOISE)
    f.write("Failed to import warp: No module named 'warp'\n")
    f.write("Failed to import mujoco_warp: No module named 'warp'\nhello\n")
    f.write("Failed to import warp: CUDA driver too old\npartial")
    f.finish()
    assert out.getvalue() == "hello\nFailed to import warp: CUDA driver too old\npartial"
    assert not _console.quiet_warp_import()  # installed once (on import of envs)
    assert sum(isinstance(x, _console._QuietWarpFinder) for x in sys.meta_path) <= 1


def test_nanmean_of_no_finished_episode_is_nan_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(nanmean(np.full((2,), np.nan))) and np.isnan(nanmean([]))
        assert nanmean([np.nan, 1.0, 0.0]) == 0.5


@pytest.fixture(scope="module")
def warmup_run(tmp_path_factory):
    """A tiny CLI run whose chunks finish no episode (200-step episodes, 20 steps per env and chunk)."""
    out = tmp_path_factory.mktemp("console") / "run"
    args = [
        "--benchmark",
        "toy/1",
        "--envs-per-skill",
        "4",
        "--max-path-length",
        "200",
        "--total-steps",
        "160",
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
        "1",
        "--eval-every",
        "0",
        "--no-progress",
        "--out",
        str(out),
    ]
    r = subprocess.run(
        [sys.executable, "-m", "jaxmeta", "train", *args], capture_output=True, text=True, timeout=600, env=ENV
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return r


def test_train_console_has_no_library_noise(warmup_run):
    lines = (warmup_run.stdout + warmup_run.stderr).splitlines()
    assert not [x for x in lines if re.search(r"Failed to import|warp|slow compile", x, re.IGNORECASE)], lines


def test_train_console_has_no_nan_warning(warmup_run):
    lines = (warmup_run.stdout + warmup_run.stderr).splitlines()
    assert not [x for x in lines if NOISE.search(x)], lines
