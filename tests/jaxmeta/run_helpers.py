"""Helpers shared by the tests that train, checkpoint and resume runs."""

from __future__ import annotations

import csv

import jax

from jaxmeta.checkpoint import Checkpointer
from jaxmeta.metrics_log import TIMING_COLUMNS
from jaxmeta.train import make_train


def forbid_training(monkeypatch) -> None:
    """Make reaching the trainer (i.e. compiling) fail the test: for checks that must fail before it."""
    import jaxmeta.driver as driver_mod

    def boom(*a, **k):
        raise AssertionError("reached training / compilation")

    monkeypatch.setattr(driver_mod, "train", boom)
    monkeypatch.setattr(driver_mod, "make_train", boom)


def assert_cli_error(argv: list[str], pattern: str, capsys) -> str:
    """``jaxmeta <argv>`` exits with status 2 and a stderr matching `pattern` (returned)."""
    import re

    import pytest

    from jaxmeta import cli

    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert re.search(pattern, err), err
    return err


def metrics_rows(run_dir) -> list[dict]:
    """Rows of a run's metrics.csv without the timing columns (the only ones a resume may change)."""
    with open(run_dir / "metrics.csv", newline="") as f:
        return [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in csv.DictReader(f)]


def restore_full_state(run_dir, cfg):
    """(TrainState, meta) of the latest checkpoint of `run_dir`, restored onto the first device."""
    tr = make_train(cfg)
    abstract = jax.eval_shape(tr.init, tr.seed_key(0))
    dev = jax.sharding.SingleDeviceSharding(jax.devices()[0])
    abstract = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=dev), abstract)
    ck = Checkpointer(run_dir, keep=10)
    try:
        return ck.restore(abstract, cfg)
    finally:
        ck.close()
