"""PaCo / TaCo multi-task training (paper 002, phase 1) with Table VI / VII settings.

    python experiments/paco_mt10.py --preset small                 # toy/3, minutes on a 2-core CPU
    python experiments/paco_mt10.py --preset full --algo taco      # MT10, 20M env steps (GPU), TaCo weights
    python experiments/paco_mt10.py --preset full --algo taco-online --seeds 4 --out checkpoints/taco-online

``--algo``: ``paco`` (uniform tasks), ``taco`` (pick-place, peg-insert-side, drawer-open x2, paper
Table II), ``taco-online`` (DBSCAN groups of theta_t every 500k env steps). ``full`` is the
``paco-mt10`` / ``taco-mt10`` / ``taco-online-mt10`` preset of `jaxmeta.config.PRESETS`: batch 1280, 10
envs, 3x400, lr 3e-4 (w too), alpha lr 1e-4, log-alpha in [-10, 0], discount 0.99, episode length 150,
15k exploration env steps, buffer 1e6, K = 5, loss threshold 3e3, 20M env steps. ``small`` keeps K = 5
and the threshold but trains tiny networks on the pure-JAX toy env (a smoke run of the whole pipeline:
metrics.csv with the mask-out / reset counters, learning_curve.png, checkpoints usable as a transfer
source by ``experiments/taco_transfer.py``). MT10 needs all ten skills ported to MJX (the script says
which are missing).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jaxmeta  # noqa: E402,F401  (XLA flags before JAX)

from jaxmeta.config import PRESETS, TrainConfig, check_ported  # noqa: E402
from jaxmeta.networks import NetworkConfig  # noqa: E402
from jaxmeta.agents.paco.options import PaCoOptions  # noqa: E402

ALGOS = {"paco": "paco-mt10", "taco": "taco-mt10", "taco-online": "taco-online-mt10"}


def small_config(algo: str, seed: int = 0, seeds: int = 1, out: str | None = None) -> TrainConfig:
    """The ``small`` preset: toy/3, K = 5, threshold 3e3, (64, 64) networks, 24k env steps."""
    full = PRESETS[ALGOS[algo]]
    paco = full.paco
    if algo == "taco":  # the MT10 skills do not exist on toy: double task 0 instead
        paco = PaCoOptions(task_sampling="weighted", task_weights=(2.0, 1.0, 1.0))
    if algo == "taco-online":
        paco = PaCoOptions(task_sampling="online", online_every=4_000)
    return TrainConfig(
        benchmark="toy/3",
        algo=full.algo,
        seed=seed,
        num_seeds=seeds,
        envs_per_skill=4,
        max_path_length=50,
        total_steps=24_000,
        warmup_steps=1_200,
        updates_per_step=1,
        chunk_steps=2_400,
        batch_size=240,
        buffer_capacity=50_000,
        balanced=True,
        network=NetworkConfig(hidden=(64, 64)),
        sac=dict(actor_lr=1e-3, critic_lr=1e-3, alpha_lr=1e-3),
        paco=paco,
        eval_every=4_800,
        eval_episodes=10,
        checkpoint_every=12_000,
        out=out,
    )


def full_config(algo: str, seed: int = 0, seeds: int = 1, out: str | None = None) -> TrainConfig:
    return PRESETS[ALGOS[algo]].replace(seed=seed, num_seeds=seeds, out=out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=["small", "full"], default="small")
    ap.add_argument("--algo", choices=sorted(ALGOS), default="paco")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--seeds", type=int, default=1, help="seeds vmapped in one program")
    ap.add_argument("--out", default=None, help="run directory (default checkpoints/<run-name>)")
    ap.add_argument("--total-steps", type=int, default=None)
    ap.add_argument("--dry-run", action="store_true", help="print the configuration and exit")
    args = ap.parse_args(argv)
    make = small_config if args.preset == "small" else full_config
    cfg = make(args.algo, args.seed, args.seeds, args.out)
    if args.total_steps is not None:
        cfg = cfg.replace(total_steps=args.total_steps, warmup_steps=min(cfg.warmup_steps, args.total_steps))
    if args.dry_run:
        print(json.dumps(cfg.to_dict(), indent=2))
        return cfg
    check_ported(cfg.benchmark)  # ValueError naming the unported MT10 skills

    from envs._runtime import enable_compilation_cache

    enable_compilation_cache()
    from jaxmeta.train import train

    summary = train(cfg)
    print(
        json.dumps(
            {k: summary.get(k) for k in ("run_dir", "best_eval_success", "final_eval", "updates_per_s")},
            indent=2,
            default=str,
        )
    )
    return summary


if __name__ == "__main__":
    main()
