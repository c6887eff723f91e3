"""XLA's cost analysis of one learner update of a preset: floating-point operations and bytes accessed.

The arithmetic behind the on-paper accelerator estimate in docs/throughput.md. The update is lowered and
compiled on this machine's backend with the preset's batch size and networks (the env is the toy env with
as many skills as the preset's benchmark, so the networks' input widths are the same: 39-dim observations,
one-hot skill ids); nothing is trained.

    .venv/bin/python experiments/update_cost.py                       # default and mt10-fast
    .venv/bin/python experiments/update_cost.py --presets mt10 default
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jaxmeta  # noqa: E402,F401  (XLA CPU flag before JAX starts)

import jax  # noqa: E402

from jaxmeta.config import PRESETS, preset  # noqa: E402
from jaxmeta.train import make_train  # noqa: E402


def update_cost(name: str) -> dict:
    """{"flops", "bytes"} of one update of preset `name` (its learner, batch and networks)."""
    cfg = PRESETS[name]
    skills = len(cfg.skills)
    cfg = preset(name, benchmark=f"toy/{skills}", buffer_capacity=max(4096, cfg.batch_size), warmup_steps=0)
    tr = make_train(cfg)
    ts = jax.jit(tr.init)(tr.seed_key(0))
    compiled = jax.jit(tr.learner.update).lower(ts.agent, ts.replay, jax.random.PRNGKey(0)).compile()
    ca = compiled.cost_analysis()
    ca = ca[0] if isinstance(ca, (list, tuple)) else ca
    return {"flops": float(ca["flops"]), "bytes": float(ca["bytes accessed"]), "config": cfg}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sac = sorted(n for n, c in PRESETS.items() if c.algo in ("mtsac", "mhsac"))
    p.add_argument("--presets", nargs="+", default=["default", "mt10-fast"], choices=sac)
    args = p.parse_args(argv)
    print(f"backend {jax.default_backend()}; one update = sample a batch + critic, actor and temperature steps")
    print("| preset | batch | hidden | skills | GFLOP / update | MB accessed / update |")
    print("|---|---|---|---|---|---|")
    for name in args.presets:
        c = update_cost(name)
        cfg = c["config"]
        print(
            f"| {name} | {cfg.batch_size} | {'x'.join(map(str, cfg.network.hidden))} | {len(cfg.skills)} | "
            f"{c['flops'] / 1e9:.2f} | {c['bytes'] / 1e6:.0f} |"
        )


if __name__ == "__main__":
    main()
