"""Training-loop throughput: SAC updates/s, env-steps/s of the full loop vs the env alone, compile times.

Three measurements, each compiled ahead of time (compile time reported separately from run time;
steady state = median over `--repeats` timed calls after one warm-up call):

1. updates/s of one-hot MT-SAC (default: batch 1280, 3x400 networks, 10 tasks, PaCo Table VI) on a
   full uniform replay buffer: sample + SAC update, `--updates` of them in one jitted scan.
   ``--per`` adds prioritized sampling and the priority write-back.
2. env-steps/s of the env alone (random actions, same batched env as the trainer) and
3. env-steps/s of the full training chunk (act -> env step -> replay add -> k updates), and the compile
   time of that chunk, for `--benchmark` with `--envs-per-skill` envs per skill and
   `--updates-per-step` updates per batched env step.

    .venv/bin/python experiments/bench_train.py                  # PaCo-size learner + MT1/reach-v3 loop
    .venv/bin/python experiments/bench_train.py --quick          # small sizes (smoke run)
    jaxmeta bench train -- --batch-size 256 --hidden 256,256     # same script via the CLI
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import jaxmeta  # noqa: E402,F401  (XLA CPU flag before JAX starts)
from envs._runtime import enable_compilation_cache  # noqa: E402

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from jaxmeta.config import TrainConfig  # noqa: E402
from jaxmeta.networks import NetworkConfig, make_networks  # noqa: E402
from jaxmeta.replay import make_replay  # noqa: E402
from jaxmeta.sac import SACConfig, Transition, make_sac  # noqa: E402
from jaxmeta.train import make_env, make_train  # noqa: E402


def _timed(compiled, state, args, repeats):
    """Run once (warm-up), then `repeats` timed calls; returns (state, median seconds)."""
    state = jax.block_until_ready(compiled(state, *args))
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        state = jax.block_until_ready(compiled(state, *args))
        times.append(time.perf_counter() - t)
    return state, statistics.median(times)


def bench_updates(
    batch: int, hidden: tuple, num_skills: int, updates: int, repeats: int, per: bool, capacity: int
) -> dict:
    nets = make_networks(NetworkConfig(hidden=hidden, num_skills=num_skills))
    sac = make_sac(SACConfig(num_skills=num_skills), nets)
    buf = make_replay(capacity, num_skills, "prioritized" if per else "uniform")
    k = jax.random.split(jax.random.PRNGKey(0), 8)
    items = Transition(
        obs=jax.random.normal(k[0], (capacity, 39)),
        action=jax.random.uniform(k[1], (capacity, 4), minval=-1, maxval=1),
        reward=jax.random.uniform(k[2], (capacity,)) * 10,
        next_obs=jax.random.normal(k[3], (capacity, 39)),
        discount=jnp.ones((capacity,)),
        skill_id=jax.random.randint(k[4], (capacity,), 0, num_skills),
    )
    rs = jax.jit(buf.add, donate_argnums=0)(buf.init(jax.tree.map(lambda x: x[0], items)), items)
    state = (sac.init(k[5]), rs, k[6])

    def run(state):
        def one(carry, _):
            s, r, key = carry
            key, ks, ku = jax.random.split(key, 3)
            b, info = buf.sample(r, ks, batch)
            s, m, td = sac.update(s, b, ku, info.weights if per else None)
            r = buf.set_priorities(r, info.indices, td)
            return (s, r, key), m["critic_loss"]

        return jax.lax.scan(one, state, None, length=updates)[0]

    t = time.perf_counter()
    compiled = jax.jit(run, donate_argnums=0).lower(state).compile()
    compile_s = time.perf_counter() - t
    _, dt = _timed(compiled, state, (), repeats)
    return {"compile_s": compile_s, "updates_per_s": updates / dt}


def bench_env_alone(cfg: TrainConfig, steps: int, repeats: int) -> dict:
    env = make_env(cfg, cfg.envs_per_skill)
    s = jax.jit(env.reset)(jax.random.PRNGKey(0))

    def run(s, key):
        def body(s, k):
            a = jax.random.uniform(k, (env.num_envs, 4), minval=-1.0, maxval=1.0)
            return env.step(s, a), None

        return jax.lax.scan(body, s, jax.random.split(key, steps))[0]

    t = time.perf_counter()
    compiled = jax.jit(run, donate_argnums=0).lower(s, jax.random.PRNGKey(1)).compile()
    compile_s = time.perf_counter() - t
    _, dt = _timed(compiled, s, (jax.random.PRNGKey(1),), repeats)
    return {"compile_s": compile_s, "env_steps_per_s": env.num_envs * steps / dt}


def bench_loop(cfg: TrainConfig, repeats: int) -> dict:
    tr = make_train(cfg)
    ts = jax.jit(tr.init)(tr.seed_key(0))
    t = time.perf_counter()
    compiled = jax.jit(tr.chunk, donate_argnums=0).lower(ts).compile()
    compile_s = time.perf_counter() - t
    # warm-up chunk(s) first so that the timed chunks update on every iteration
    while int(ts.env_steps) < cfg.learning_starts:
        ts, _ = compiled(ts)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        ts, m = compiled(ts)
        jax.block_until_ready(m)
        times.append(time.perf_counter() - t)
    dt = statistics.median(times)
    return {
        "compile_s": compile_s,
        "env_steps_per_s": cfg.env_steps_per_chunk / dt,
        "updates_per_s": cfg.iters_per_chunk * cfg.updates_per_step / dt,
        "critic_loss": float(m["critic_loss"]),
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-size", type=int, default=1280)
    p.add_argument("--hidden", default="400,400,400")
    p.add_argument("--num-tasks", type=int, default=10, help="tasks of the update benchmark (one-hot)")
    p.add_argument("--updates", type=int, default=50, help="updates per timed call")
    p.add_argument("--capacity", type=int, default=100_000, help="replay capacity of the update benchmark")
    p.add_argument("--per", action="store_true", help="prioritized replay in the update benchmark")
    p.add_argument("--benchmark", default="MT1/reach-v3", help="env of the loop benchmarks")
    p.add_argument("--envs-per-skill", type=int, default=16)
    p.add_argument("--updates-per-step", type=int, default=1)
    p.add_argument("--loop-batch-size", type=int, default=None, help="default: --batch-size")
    p.add_argument("--loop-hidden", default=None, help="default: --hidden")
    p.add_argument("--chunk-steps", type=int, default=1600, help="env steps per timed chunk")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--skip", nargs="*", default=[], choices=["updates", "env", "loop"])
    p.add_argument("--quick", action="store_true", help="small sizes: batch 256, 2x256, 20 updates")
    p.add_argument("--json", help="also write the results to this file")
    args = p.parse_args(argv)
    if args.quick:
        args.batch_size, args.hidden, args.updates, args.chunk_steps, args.repeats = 256, "256,256", 20, 800, 2
    hidden = tuple(int(h) for h in args.hidden.split(","))
    loop_hidden = tuple(int(h) for h in (args.loop_hidden or args.hidden).split(","))
    loop_batch = args.loop_batch_size or args.batch_size
    enable_compilation_cache()
    dev = jax.devices()[0]
    print(
        f"device: {dev.platform} ({dev.device_kind}) x{len(jax.devices())}, cpu cores: {os.cpu_count()}, "
        f"load avg: {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    res: dict = {"device": dev.platform, "cpu_count": os.cpu_count(), "args": vars(args)}

    if "updates" not in args.skip:
        r = bench_updates(args.batch_size, hidden, args.num_skills, args.updates, args.repeats, args.per, args.capacity)
        res["updates"] = r
        print(
            f"[updates] MT-SAC one-hot, {args.num_skills} tasks, batch {args.batch_size}, hidden {hidden}"
            f"{', PER' if args.per else ''}: {r['updates_per_s']:.1f} updates/s (compile {r['compile_s']:.1f}s)",
            flush=True,
        )

    cfg = TrainConfig(
        benchmark=args.benchmark,
        envs_per_skill=args.envs_per_skill,
        updates_per_step=args.updates_per_step,
        steps_per_update=1,
        batch_size=loop_batch,
        buffer_capacity=max(100_000, loop_batch),
        network=NetworkConfig(hidden=loop_hidden),
        chunk_steps=args.chunk_steps,
        warmup_steps=max(loop_batch, 0),
        total_steps=10 * args.chunk_steps + loop_batch,
    )
    steps = cfg.iters_per_chunk
    if "env" not in args.skip:
        r = bench_env_alone(cfg, steps, args.repeats)
        res["env_alone"] = r
        print(
            f"[env]     {cfg.benchmark}, {cfg.num_envs} envs, random actions: {r['env_steps_per_s']:,.0f} env steps/s "
            f"(compile {r['compile_s']:.1f}s)",
            flush=True,
        )
    if "loop" not in args.skip:
        r = bench_loop(cfg, args.repeats)
        res["loop"] = r
        print(
            f"[loop]    {cfg.benchmark}, {cfg.num_envs} envs, {cfg.updates_per_step} update(s)/batched step, "
            f"batch {loop_batch}, hidden {loop_hidden}: {r['env_steps_per_s']:,.0f} env steps/s, "
            f"{r['updates_per_s']:.1f} updates/s (chunk compile {r['compile_s']:.1f}s)",
            flush=True,
        )
        if "env_alone" in res:
            print(f"[loop]    full loop / env alone: {r['env_steps_per_s'] / res['env_alone']['env_steps_per_s']:.2f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return res


if __name__ == "__main__":
    main()
