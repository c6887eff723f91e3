"""TaCo transfer (paper 002, phase 2, Algorithm 2) vs SAC from scratch, with the paper's metrics.

    python experiments/taco_transfer.py --preset small                     # toy: source + transfer + scratch
    python experiments/taco_transfer.py --preset full --source checkpoints/taco-mt10 --seeds 5
    python experiments/taco_transfer.py --preset full --source ... --fixed-phi    # Table V: train w only

For every target task: a TaCo transfer run (`jaxmeta.taco`: the actor's Phi restored from ``--source``
(a paco / taco run directory, its latest checkpoint), a fresh critic and a new w; ``n_e`` env steps of
random subspace policies ``w = W beta`` during which only the critic trains; then Phi and w train, or
w only with ``--fixed-phi``) and a from-scratch single-task SAC run (algo ``mtsac``, same settings,
uniform warm-up of the same length), both through the normal trainer with ``--seeds`` vmapped seeds.
Reported per target (`jaxmeta.taco.transfer_metrics`): ``n`` = env steps to an evaluation success
>= 0.9 before ``n_max``, transfer success ``alpha`` (fraction of seeds reaching it), and the relative
transfer cost ``(n/alpha)_transfer / (n/alpha)_scratch``; written to ``<out>/transfer_results.csv`` and
``.json`` (plus each run's metrics.csv / learning_curve.png).

Presets:
- ``full``: paper 002's targets sweep, sweep-into, lever-pull, shelf-place (skills not ported to MJX yet
  are skipped with a message), Table VI settings for one task (10 parallel envs, batch 1280, 3x400, lr
  3e-4, alpha lr 1e-4, episode length 150), n_e = 20000 (Table VII), n_max = 6M env steps, evaluation
  every 50k steps. ``--source`` must be a paco/taco MT10 run with the same K and widths (e.g.
  ``experiments/paco_mt10.py --preset full --algo taco``; the paper transfers its best policy -- pass
  ``--source-step`` for a given checkpoint).
- ``small``: trains its own source first (``experiments/paco_mt10.py``'s small PaCo preset on toy/3),
  then transfers to toy/1 (the toy env has no held-out skill, so this exercises the pipeline rather
  than measuring transfer), a few thousand env steps each on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jaxmeta  # noqa: E402,F401  (XLA flags before JAX)

from jaxmeta.config import TrainConfig, check_ported  # noqa: E402
from jaxmeta.networks import NetworkConfig  # noqa: E402
from jaxmeta.sac import SACConfig  # noqa: E402
from jaxmeta.agents.taco.metrics import relative_transfer_cost, transfer_metrics  # noqa: E402

FULL_TARGETS = ("sweep-v3", "sweep-into-v3", "lever-pull-v3", "shelf-place-v3")


def target_configs(
    preset: str,
    target: str,
    source: str,
    out: Path,
    seeds: int,
    fixed_phi: bool,
    source_step: int | None,
    n_e: int | None,
) -> tuple[TrainConfig, TrainConfig]:
    """(transfer config, from-scratch config) for one target benchmark."""
    src = TrainConfig.from_dict(json.loads((Path(source) / "config.json").read_text()))
    if preset == "full":
        common = dict(
            benchmark=f"MT1/{target}",
            num_seeds=seeds,
            envs_per_skill=10,
            max_path_length=150,
            total_steps=6_000_000,
            updates_per_step=1,
            chunk_steps=50_000,
            batch_size=1280,
            buffer_capacity=1_000_000,
            network=NetworkConfig(hidden=src.network.hidden),
            sac=SACConfig(discount=0.99, actor_lr=3e-4, critic_lr=3e-4, alpha_lr=1e-4),
            eval_every=50_000,
            eval_episodes=10,
            checkpoint_every=1_000_000,
        )
        n_e = 20_000 if n_e is None else n_e
    else:
        common = dict(
            benchmark=target,
            num_seeds=seeds,
            envs_per_skill=4,
            max_path_length=50,
            total_steps=6_000,
            updates_per_step=1,
            chunk_steps=600,
            batch_size=120,
            buffer_capacity=20_000,
            network=NetworkConfig(hidden=src.network.hidden),
            sac=SACConfig(actor_lr=1e-3, critic_lr=1e-3, alpha_lr=1e-3),
            eval_every=600,
            eval_episodes=10,
            checkpoint_every=0,
        )
        n_e = 1_200 if n_e is None else n_e
    name = target.replace("/", "-")
    paco = dataclass_replace(
        src.paco,
        task_sampling="uniform",
        task_groups=None,
        task_weights=None,
        upweighted_skills=(),
        transfer_from=str(source),
        transfer_step=source_step,
        transfer_explore_steps=n_e,
        transfer_fixed_phi=fixed_phi,
    )
    transfer = TrainConfig(
        **common,
        algo="paco",
        balanced=True,
        warmup_steps=0,
        paco=paco,
        out=str(out / f"{name}-taco{'-fixedphi' if fixed_phi else ''}"),
    )
    scratch = TrainConfig(**common, algo="mtsac", warmup_steps=n_e, out=str(out / f"{name}-scratch"))
    return transfer, scratch


def dataclass_replace(obj, **kw):
    import dataclasses

    return dataclasses.replace(obj, **kw)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", choices=["small", "full"], default="small")
    ap.add_argument("--source", default=None, help="paco/taco run directory (small: trained if missing)")
    ap.add_argument("--source-step", type=int, default=None, help="source checkpoint (default: latest)")
    ap.add_argument("--targets", default=None, help="comma-separated skills (full) / toy benchmarks (small)")
    ap.add_argument("--seeds", type=int, default=None, help="seeds per run (full: 5, small: 2)")
    ap.add_argument("--explore-steps", type=int, default=None, help="n_e (full: 20000)")
    ap.add_argument("--fixed-phi", action="store_true", help="train w only (Table V)")
    ap.add_argument("--no-scratch", action="store_true", help="skip the from-scratch baselines")
    ap.add_argument("--threshold", type=float, default=0.9)
    ap.add_argument("--out", default=None, help="results directory (default checkpoints/taco-transfer-<preset>)")
    args = ap.parse_args(argv)
    full = args.preset == "full"
    out = Path(args.out or f"checkpoints/taco-transfer-{args.preset}")
    out.mkdir(parents=True, exist_ok=True)
    seeds = args.seeds or (5 if full else 2)
    n_max = 6_000_000 if full else None

    from envs._runtime import enable_compilation_cache

    enable_compilation_cache()
    from jaxmeta.checkpoint import latest_step
    from jaxmeta.train import train

    source = args.source
    if source is None:
        if full:
            ap.error("--preset full needs --source (a paco/taco MT10 run, e.g. from experiments/paco_mt10.py)")
        source = str(out / "source-paco-toy3")
        if latest_step(source) is None:
            from experiments.paco_mt10 import small_config

            print(f"training the source (small PaCo on toy/3) into {source}", flush=True)
            train(small_config("paco", out=source).replace(total_steps=12_000), progress=False)
    targets = args.targets.split(",") if args.targets else (list(FULL_TARGETS) if full else ["toy/1"])

    results = []
    for target in targets:
        bench = f"MT1/{target}" if full else target
        try:
            check_ported(bench)
        except ValueError as e:
            print(f"skipping {target}: {e}", flush=True)
            continue
        tcfg, scfg = target_configs(
            args.preset, target, source, out, seeds, args.fixed_phi, args.source_step, args.explore_steps
        )
        row = {
            "target": target,
            "source": source,
            "fixed_phi": args.fixed_phi,
            "seeds": seeds,
            "n_e": tcfg.paco.transfer_explore_steps,
        }
        for kind, cfg in (("transfer", tcfg),) + (() if args.no_scratch else (("scratch", scfg),)):
            resume = latest_step(cfg.out_dir) is not None
            print(f"{target}: {kind} run -> {cfg.out_dir}{' (resuming)' if resume else ''}", flush=True)
            summary = train(cfg, resume=resume, progress=False)
            m = transfer_metrics(cfg.out_dir, args.threshold, n_max)
            row.update(
                {
                    f"{kind}_n": m["n"],
                    f"{kind}_alpha": m["alpha"],
                    f"{kind}_cost": m["cost"],
                    f"{kind}_final_success": (summary.get("final_eval") or {}).get("success"),
                }
            )
            row[f"_{kind}"] = m
        if "_scratch" in row:
            row["relative_transfer_cost"] = relative_transfer_cost(row["_transfer"], row["_scratch"])
        row = {k: v for k, v in row.items() if not k.startswith("_")}
        results.append(row)
        print(json.dumps(row, default=str), flush=True)

    if results:
        fields = sorted({k for r in results for k in r}, key=lambda k: (k != "target", k))
        with (out / "transfer_results.csv").open("w", newline="") as f:
            w = csv.DictWriter(f, fields)
            w.writeheader()
            w.writerows(results)
        finite = [{k: (None if isinstance(v, float) and math.isinf(v) else v) for k, v in r.items()} for r in results]
        (out / "transfer_results.json").write_text(json.dumps(finite, indent=2, default=str))  # inf -> null
        print(f"wrote {out / 'transfer_results.csv'}")
    return results


if __name__ == "__main__":
    main()
