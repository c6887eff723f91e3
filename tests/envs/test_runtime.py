"""envs._runtime: XLA flags set before JAX starts (fusion emitters off, one host device per core)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_PROBE = "import envs, os, json, jax; print('OUT' + json.dumps([os.environ['XLA_FLAGS'], len(jax.devices())]))"


def _probe(**env_over):
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "JAXMETA_CPU_DEVICES")}
    env.update(env_over)
    r = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=120)
    return r, (json.loads(r.stdout.split("OUT", 1)[1]) if "OUT" in r.stdout else None)


def test_one_host_device_per_core_by_default():
    from envs._runtime import cpu_device_count

    r, out = _probe()
    assert r.returncode == 0, r.stderr[-2000:]
    flags, n = out
    assert f"--xla_force_host_platform_device_count={cpu_device_count()}" in flags
    assert "--xla_cpu_use_fusion_emitters=false" in flags
    assert n == cpu_device_count() == len(os.sched_getaffinity(0))


def test_jaxmeta_cpu_devices_and_explicit_flag_win():
    r, out = _probe(JAXMETA_CPU_DEVICES="3")
    assert r.returncode == 0 and out[1] == 3, r.stderr[-2000:]
    # an explicit XLA flag wins over both (and the fusion flag is still appended)
    r, out = _probe(JAXMETA_CPU_DEVICES="3", XLA_FLAGS="--xla_force_host_platform_device_count=1")
    assert r.returncode == 0 and out[1] == 1 and "xla_cpu_use_fusion_emitters=false" in out[0]


@pytest.mark.parametrize("bad", ["0", "-2", "two"])
def test_bad_jaxmeta_cpu_devices_is_a_clear_error(bad):
    r, _ = _probe(JAXMETA_CPU_DEVICES=bad)
    assert r.returncode != 0
    assert f"JAXMETA_CPU_DEVICES must be a positive integer, got {bad!r}" in r.stderr
