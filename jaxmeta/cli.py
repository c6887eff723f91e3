"""Command line: ``jaxmeta train ...`` / ``python -m jaxmeta train ...``; ``jaxmeta bench envs|train``.

    jaxmeta train                                   # the mt1-fast preset: MT1/reach-v3, a few CPU minutes
    jaxmeta train --preset mt10 --per --seeds 4     # PaCo Table VI MT10, prioritized replay, 4 seeds
    jaxmeta train --benchmark MT1/push-v3 --algo mhsac --total-steps 1e6 --out checkpoints/push
    jaxmeta train --out checkpoints/push --resume   # continue a killed run exactly
    jaxmeta train --benchmark ML1/reach-v3 --algo reptile --inner-steps 5 --meta-batch 4 --outer-lr 0.5
    jaxmeta finetune --from checkpoints/ml1-reach --benchmark ML1/reach-v3 --tasks 0 --keep-buffer --per
    jaxmeta bench train --quick                     # experiments/bench_train.py

Every flag is validated (and the run directory checked) before anything is compiled; errors print one
line and exit with status 2. The persistent XLA compilation cache is enabled (``~/.cache/jaxmeta/xla``
or ``$JAXMETA_CACHE_DIR``), so a second run of the same configuration starts in seconds.

Run-directory rules (`jaxmeta.checkpoint`): a new run refuses a non-empty ``--out`` unless
``--overwrite`` (which removes only jaxmeta's own files, and only in a jaxmeta run directory); without
``--out`` a fresh ``checkpoints/<run-name>[-k]`` is picked. ``--resume --out DIR`` continues the latest
checkpoint in DIR with the configuration saved there (``DIR/config.json``; the preset and flag defaults
play no part): only the resumable fields (`jaxmeta.checkpoint.RESUMABLE_FIELDS`) may be changed, by
``--total-steps`` (e.g. to extend the run), ``--eval-every``, ``--eval-episodes``, ``--eval-policy``,
``--checkpoint-every`` and ``--out``; any other flag given with ``--resume`` (``--preset`` included) must
repeat the saved value, else it is an error naming the flag and both values. ``jaxmeta finetune --resume
--out DIR`` follows the same rule (resumable: ``--total-steps``, ``--eval-every``, ``--eval-episodes``,
``--out``).

Faults (docs/reliability.md): ``--resume`` reads the whole checkpoint before compiling and skips a corrupt
or incomplete newest one for the newest intact one, saying so; ``--from-step STEP`` picks the checkpoint
(an error lists those there). A failure prints a line or two; library detail and tracebacks go to
``<out>/error.log``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import runpy
import sys
from pathlib import Path

import envs  # noqa: F401  (XLA flags before JAX initialises)
from jaxmeta.cli_flags import (  # noqa: F401  (_NOT_CONFIG, _DISTRIBUTED_FLAGS: read by tests as cli.*)
    _DISTRIBUTED_FLAGS,
    _FROM_STEP_HELP,
    _NOT_CONFIG,
    _RATIO_FIELDS,
    _WANDB_HELP,
    _count,
    _Flag,
    _floats,
    _hidden,
    _ints,
    _ratio,
    _ratio_values,
    _resume_config,
    _show,
    _simple,
    _WandbFlag,
    _check_from_step,
    _check_resume_dir,
    _launch,
    _given_flags,
    _nondefault_of,
    for_algo,
)
from jaxmeta.cli_finetune import (  # noqa: F401  (re-exported: the finetune sub-command's old home)
    FINETUNE_FLAGS,
    _finetune_parser,
    finetune_config_from_args,
    finetune_main,
)

__all__ = ["build_config", "given_flags", "main", "parser", "resume_config"]


def parser() -> argparse.ArgumentParser:
    from jaxmeta.config import ALGOS, EVAL_POLICIES, PRESETS

    p = argparse.ArgumentParser(prog="jaxmeta", description="JAX multi-task / meta-RL on Meta-World (MJX).")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser(
        "train", help="train (or resume) a multi-task SAC agent", formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    t.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="base configuration (default: the algorithm's own preset: MT-SAC 'mt1-fast', --algo ppo -> 'ppo'; "
        "algorithms without one: 'default')",
    )
    t.add_argument("--benchmark", help="MT1/<skill>, MT10, MT50, ML10, ... or toy/<n>")
    t.add_argument(
        "--algo",
        choices=sorted(ALGOS),
        help="mtsac (one-hot skill input), mhsac (multi-head), paco / taco (compositional, paper 002), reptile, "
        "ppo (on-policy; starts from --preset ppo), rl2 (recurrent PPO over trials; --preset rl2), "
        "pearl (SAC with a context encoder, per-task replay; --preset pearl)",
    )
    t.add_argument("--per", action="store_true", default=None, help="prioritized experience replay")
    t.add_argument("--balanced", action="store_true", default=None, help="skill-balanced replay sampling")
    t.add_argument("--n-step", type=int, help="n-step returns in the replay (1: one-step TD targets)")
    t.add_argument("--seed", type=int, help="PRNG seed (and benchmark task-set seed)")
    t.add_argument("--seeds", type=int, dest="num_seeds", help="independent seeds vmapped in one program")
    t.add_argument("--total-steps", type=_count, help="env steps (summed over envs) per seed, e.g. 2e6")
    t.add_argument("--warmup-steps", type=_count, help="env steps of uniform random actions")
    t.add_argument(
        "--updates-per-step", type=_ratio, help="SAC updates per batched env step: an int or a ratio like 1/4"
    )
    t.add_argument("--batch-size", type=_count)
    t.add_argument("--buffer-capacity", type=_count)
    t.add_argument("--envs-per-skill", type=int)
    t.add_argument("--max-path-length", type=int, help="episode length (truncation)")
    t.add_argument("--chunk-steps", type=_count, help="env steps per jitted chunk")
    t.add_argument("--eval-every", type=_count, help="env steps between evaluations (0: end only)")
    t.add_argument("--eval-episodes", type=int, help="evaluation episodes per skill")
    t.add_argument(
        "--eval-policy",
        choices=EVAL_POLICIES,
        help="how evaluations act: the policy's mean (deterministic, default) or a sample, as in training",
    )
    t.add_argument("--checkpoint-every", type=_count, help="env steps between checkpoints (0: end only)")
    t.add_argument("--hidden", type=_hidden, help="hidden layer widths, e.g. 400,400,400")
    t.add_argument(
        "--layer-norm",
        choices=["none", "critic", "both"],
        help="LayerNorm in the hidden layers of the critic (or of both networks); SAC algos",
    )
    t.add_argument("--lr", type=float, help="learning rate (SAC: actor, critic and temperature; PPO: its Adam)")
    t.add_argument("--discount", type=float, help="discount of the algorithm that runs (SAC or PPO)")
    t.add_argument("--out", help="run directory (default checkpoints/<run-name>)")
    t.add_argument(
        "--split",
        choices=["train", "test"],
        help="task sets the envs run: test = held-out tasks of ML1/ML10 (from-scratch baselines)",
    )
    t.add_argument(
        "--tasks", type=_ints, dest="task_indices", help="keep only these task rows of every skill, e.g. 0 or 0-24"
    )
    rp = t.add_argument_group("Reptile (--algo reptile; TrainConfig.reptile)")
    rp.add_argument("--inner-steps", type=int, help="k SAC updates per skill per outer step")
    rp.add_argument(
        "--meta-batch", type=int, help="M tasks per outer step (vmapped inner loops); pearl: tasks per update"
    )
    rp.add_argument("--outer-lr", type=float, help="outer step size eps in [0, 1]")
    pc = t.add_argument_group("PaCo / TaCo (--algo paco|taco; TrainConfig.paco)")
    pc.add_argument("--param-sets", type=int, help="K parameter sets per layer (Table VII: 5)")
    pc.add_argument("--loss-threshold", type=float, help="mask-out / w-reset loss threshold (3e3)")
    pc.add_argument("--task-sampling", help="taco: uniform | grouped | weighted | online")
    pc.add_argument("--task-weights", type=_floats, help="taco weighted: one weight per skill, e.g. 1,2,1")
    pc.add_argument("--transfer-from", help="TaCo transfer: restore Phi from this paco/taco run directory")
    pc.add_argument("--explore-steps", type=_count, help="TaCo transfer: n_e subspace-exploration env steps")
    pc.add_argument("--fixed-phi", action="store_true", default=None, help="TaCo transfer: train w only")
    po = t.add_argument_group("PPO (--algo ppo; TrainConfig.ppo)")
    po.add_argument(
        "--rollout-length", type=int, help="batched env steps per rollout (one PPO update each; steps_per_update)"
    )
    po.add_argument("--epochs", type=int, help="epochs over each rollout")
    po.add_argument("--minibatches", type=int, help="minibatches per epoch (they must divide envs x rollout length)")
    po.add_argument("--clip-eps", type=float, help="clip range of the probability ratio")
    po.add_argument("--gae-lambda", type=float, help="GAE lambda")
    po.add_argument("--entropy-coef", type=float, help="entropy bonus coefficient")
    po.add_argument("--reward-scale", type=float, help="factor on the rewards the PPO / RL2 update sees")
    r2 = t.add_argument_group("RL2 (--algo rl2; TrainConfig.rl2, with the PPO options above)")
    r2.add_argument("--episodes-per-trial", type=int, help="episodes of one task the hidden state carries over")
    r2.add_argument("--gru", type=int, help="width of the GRU")
    pe = t.add_argument_group("PEARL (--algo pearl; TrainConfig.pearl, with the SAC options above)")
    pe.add_argument("--latent-dim", type=int, help="size of the latent context z")
    pe.add_argument("--kl-weight", type=float, help="beta, the weight of the KL term")
    pe.add_argument("--episodes-per-task", type=int, help="episodes of one task (the first with z from the prior)")
    pe.add_argument("--context-batch", type=int, help="context transitions per task and update")
    grp = t.add_mutually_exclusive_group()
    grp.add_argument(
        "--resume", action="store_true", help="continue the latest checkpoint in --out, with the config saved there"
    )
    grp.add_argument(
        "--overwrite", action="store_true", help="replace jaxmeta's files in a non-empty --out (other files are kept)"
    )
    t.add_argument("--from-step", type=_count, help=_FROM_STEP_HELP)
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--wandb", action=_WandbFlag, help=_WANDB_HELP)
    t.add_argument(
        "--devices",
        type=int,
        dest="num_devices_flag",
        help="shard the run over at most N devices (default: every accelerator; 1 on a CPU, where "
        "sharding over the host devices measured slower)",
    )
    t.add_argument("--dry-run", action="store_true", help="validate, print the configuration and exit")
    d = t.add_argument_group("several processes (jax.distributed; docs/distributed.md)")
    d.add_argument(
        "--distributed",
        action="store_true",
        help="one of several processes: JAX detects SLURM / Open MPI / Kubernetes / Cloud TPU, or reads "
        "JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES, JAX_PROCESS_ID; the flags below are explicit",
    )
    d.add_argument("--coordinator", help="HOST:PORT process 0 listens on (implies --distributed)")
    d.add_argument("--num-processes", type=int, help="number of processes (implies --distributed)")
    d.add_argument("--process-id", type=int, help="this process, in [0, N) (implies --distributed)")

    f = _finetune_parser(sub)
    from jaxmeta.eval_cli import add_parser as _eval_parser

    e = _eval_parser(sub)

    b = sub.add_parser("bench", help="benchmarks (experiments/bench_*.py)")
    b.add_argument("what", choices=["envs", "train"])
    b.add_argument("args", nargs=argparse.REMAINDER, help="passed to the script")
    p.subcommands = {"train": t, "finetune": f, "eval": e, "bench": b}  # (given_flags)
    return p


# `train` flags -> TrainConfig fields (build_config; what --resume compares with the saved config)
TRAIN_FLAGS: tuple[_Flag, ...] = (
    *(_simple(d) for d in ("benchmark", "algo", "per", "balanced", "n_step", "seed")),
    _simple("num_seeds", "--seeds"),
    *(_simple(d) for d in ("total_steps", "warmup_steps")),
    _Flag("updates_per_step", "--updates-per-step", _RATIO_FIELDS, _ratio_values),
    *(
        _simple(d)
        for d in (
            "batch_size",
            "buffer_capacity",
            "envs_per_skill",
            "max_path_length",
            "chunk_steps",
            "eval_every",
            "eval_episodes",
            "eval_policy",
            "checkpoint_every",
        )
    ),
    _simple("hidden", field="network.hidden"),
    _simple("layer_norm", field="network.layer_norm"),
    _Flag("lr", "--lr", ("sac.actor_lr", "sac.critic_lr", "sac.alpha_lr", "ppo.learning_rate")),
    _Flag("discount", "--discount", ("sac.discount", "ppo.discount")),
    *(_simple(d) for d in ("out", "split")),
    _simple("task_indices", "--tasks"),
    *(_simple(d, field=f"reptile.{d}") for d in ("inner_steps", "outer_lr")),
    _Flag("meta_batch", "--meta-batch", ("reptile.meta_batch", "pearl.meta_batch")),
    _simple("param_sets", field="paco.num_param_sets"),
    *(_simple(d, field=f"paco.{d}") for d in ("loss_threshold", "task_sampling", "task_weights", "transfer_from")),
    _simple("explore_steps", field="paco.transfer_explore_steps"),
    _simple("fixed_phi", field="paco.transfer_fixed_phi"),
    _simple("rollout_length", field="steps_per_update"),
    _simple("epochs", field="ppo.num_epochs"),
    _simple("minibatches", field="ppo.num_minibatches"),
    *(_simple(d, field=f"ppo.{d}") for d in ("clip_eps", "gae_lambda", "entropy_coef", "reward_scale")),
    *(_simple(d, field=f"rl2.{d}") for d in ("episodes_per_trial", "gru")),
    *(_simple(d, field=f"pearl.{d}") for d in ("latent_dim", "kl_weight", "episodes_per_task", "context_batch")),
)


def _preset_name(args: argparse.Namespace) -> str:
    """--preset, else the --algo's own preset (`AlgoSpec.preset`; no --algo: MT-SAC's, 'mt1-fast'), else
    'default'."""
    from jaxmeta.config import ALGOS

    if args.preset is not None:
        return args.preset
    spec = ALGOS.get(getattr(args, "algo", None) or "mtsac")
    return spec.preset if spec is not None and spec.preset else "default"


def build_config(args: argparse.Namespace):
    """TrainConfig from parsed `train` args (raises ValueError naming the bad value)."""
    from jaxmeta.config import preset

    over: dict = {}
    for spec in TRAIN_FLAGS:
        v = getattr(args, spec.dest, None)
        if v is not None:
            over.update(spec.overrides(v))
    name = _preset_name(args)
    base = preset(name)
    over = for_algo(over, over.get("algo", base.algo))
    if "total_steps" in over and "warmup_steps" not in over and base.warmup_steps > over["total_steps"]:
        over["warmup_steps"] = over["total_steps"]  # a short run keeps the preset's warm-up at most
    return preset(name, **over)


# ------------------------------------------------------------------------------------------ --resume
def given_flags(argv: list[str] | None, args: argparse.Namespace) -> frozenset[str]:
    """Dests of the options written on the command line `argv` (parsed as `args`), whether or not their
    value equals the default (`jaxmeta.cli_flags._given_flags` with this CLI's parser)."""
    return _given_flags(parser(), argv, args)


def resume_config(args: argparse.Namespace, given=None):
    """TrainConfig to resume the run in ``args.out`` (parsed `train` args): the run's saved config.json
    with the given resumable flags applied (`jaxmeta.checkpoint.RESUMABLE_FIELDS`: --total-steps,
    --eval-every, --eval-episodes, --eval-policy, --checkpoint-every, --out). Any other flag in `given` (dests
    written on the command line, see `given_flags`; default: those differing from the parser's defaults) must
    equal the saved value, else ValueError naming the flag and both values; so must --preset, whose
    values (with the given flags) must describe the saved run."""
    from jaxmeta.checkpoint import config_diff
    from jaxmeta.config import preset

    saved = _check_resume_dir(args.out, "train")
    given = _nondefault(args) if given is None else given
    cfg = _resume_config(saved, args, given, TRAIN_FLAGS)
    if "preset" in given:
        over = {}
        for spec in TRAIN_FLAGS:
            if spec.dest in given and not spec.resumable:
                over.update(spec.overrides(getattr(args, spec.dest)))
        try:
            diff = config_diff(saved, preset(args.preset, **for_algo(over, over.get("algo", saved.algo))))
        except ValueError as e:
            diff, why = True, str(e)
        else:
            ws = diff.get("warmup_steps")
            if ws is not None and "warmup_steps" not in over and ws[0] < ws[1]:
                del diff["warmup_steps"]  # build_config's short-run warm-up clamp
            why = ", ".join(f"{k} {_show(a)} vs the preset's {_show(b)}" for k, (a, b) in list(diff.items())[:3])
            why += ", ..." if len(diff) > 3 else ""
        if diff:
            raise ValueError(
                f"--preset {args.preset} differs from the run's saved config ({why}); leave --preset "
                "out: --resume continues with the saved config"
            )
    return cfg


def _nondefault(args: argparse.Namespace) -> frozenset[str]:
    return _nondefault_of(parser(), args)


def _experiments_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "experiments"


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.command == "train":  # before anything touches the JAX backend
        from jaxmeta.distributed import initialize, spec_from_flags

        try:
            spec = spec_from_flags(args.distributed, args.coordinator, args.num_processes, args.process_id)
            if spec is not None and not args.dry_run:
                initialize(spec)
        except (ValueError, RuntimeError) as e:
            p.exit(2, f"jaxmeta train: error: {e}\n")
    nd = getattr(args, "num_devices_flag", None)
    if nd is not None:
        import jax

        if not 1 <= nd <= len(jax.devices()):
            p.exit(
                2,
                f"jaxmeta {args.command}: error: --devices must be in [1, {len(jax.devices())}] "
                f"(the {jax.default_backend()} devices of this process), got {nd}\n",
            )

    if args.command == "finetune":
        return finetune_main(p, args, given_flags(argv, args) if args.resume else None)
    if args.command == "eval":
        from jaxmeta.eval_cli import main as eval_main

        return eval_main(p, args)

    if args.command == "bench":
        script = _experiments_dir() / f"bench_{args.what}.py"
        if not script.is_file():
            p.error(f"{script} not found (the experiments/ folder ships with the repository, not the wheel)")
        rest = [a for a in args.args if a != "--"]
        sys.argv = [str(script)] + rest
        runpy.run_path(str(script), run_name="__main__")
        return 0

    from jaxmeta.checkpoint import CheckpointError, latest_step, prepare_run_dir
    from jaxmeta.config import check_ported

    try:
        cfg = resume_config(args, given_flags(argv, args)) if args.resume else build_config(args)
        check_ported(cfg.benchmark, cfg.split)
        if cfg.paco.transfer_from is not None and cfg.algo in ("paco", "taco"):  # TaCo transfer source
            from jaxmeta.agents.taco.transfer import check_source_config

            check_source_config(cfg.paco.transfer_from, cfg)
        if args.resume and latest_step(cfg.out_dir) is None:
            raise CheckpointError(f"nothing to resume: no checkpoint in {os.path.join(cfg.out_dir, 'checkpoints')!r}")
        _check_from_step(args, cfg)
        if args.dry_run:
            import json

            print(json.dumps(cfg.to_dict(), indent=2))
            print(
                f"num_envs={cfg.num_envs} iters_per_chunk={cfg.iters_per_chunk} "
                f"env_steps_per_chunk={cfg.env_steps_per_chunk} num_chunks={cfg.num_chunks} "
                f"out={cfg.out_dir}"
            )
            return 0
        if not args.resume and not args.overwrite and cfg.out is not None:
            from jaxmeta.distributed import agree

            # refuse a non-empty --out before compiling (creates it if missing); process 0 decides
            agree(lambda: str(prepare_run_dir(cfg)), "cli_run_dir", (ValueError, CheckpointError))
    except (ValueError, CheckpointError) as e:
        p.exit(2, f"jaxmeta train: error: {e}\n")

    return _launch(p, "train", lambda: importlib.import_module("jaxmeta.driver").train, cfg, args)


if __name__ == "__main__":
    sys.exit(main())
