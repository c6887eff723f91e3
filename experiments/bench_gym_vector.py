"""Env-steps/s of `envs.adapters.gym_vector_env` next to metaworld's own gymnasium vector env.

Same skill, same number of sub-envs, random actions (one pre-drawn (steps, N, 4) array fed to both),
SAME_STEP autoreset for both, one run. Setup time is measured separately from stepping: for the MJX
env construction plus `compile()` (reset pool, reset and step executables; the persistent compilation
cache may shorten it), for metaworld `gym.make_vec` (MuJoCo models built on the CPU). The timed part
is `reset(seed=...)` then `--steps` vector steps; env-steps/s = N * steps / seconds.

    nice -n 15 .venv/bin/python experiments/bench_gym_vector.py --skill reach-v3 --num-envs 16 --steps 1000 \\
        --out /tmp/bench_gym_vector.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
import warnings
from importlib.metadata import version

import numpy as np


def _time_steps(env, actions, seed):
    env.reset(seed=seed)
    env.step(actions[0])  # warm-up (and, for the MJX env, the first call's dispatch)
    t0 = time.perf_counter()
    dones = 0
    for a in actions[1:]:
        _, _, term, trunc, _ = env.step(a)
        dones += int(np.sum(term | trunc))
    return time.perf_counter() - t0, dones


def bench_jaxmeta(skill, num_envs, actions, seed):
    from envs.adapters import gym_vector_env  # (imports envs before jax: XLA_FLAGS)

    import jax

    t0 = time.perf_counter()
    env = gym_vector_env(f"MT1/{skill}", num_envs, seed=seed)
    build = time.perf_counter() - t0
    compile_s = env.compile()
    secs, dones = _time_steps(env, actions, seed)
    return {
        "impl": "jaxmeta gym_vector_env (MJX)",
        "device": str(jax.devices()[0]),
        "build_s": build,
        "compile_s": compile_s,
        "step_s": secs,
        "episode_ends": dones,
        "autoreset_mode": str(env.metadata["autoreset_mode"]),
    }


def bench_metaworld(skill, num_envs, actions, seed):
    import gymnasium as gym
    import metaworld  # noqa: F401  (registers Meta-World/*)

    t0 = time.perf_counter()
    env = gym.make_vec(
        "Meta-World/MT1",
        env_name=skill,
        num_envs=num_envs,
        vectorization_mode="sync",
        seed=seed,
        vector_kwargs={"autoreset_mode": gym.vector.AutoresetMode.SAME_STEP},
    )
    build = time.perf_counter() - t0
    mode = env.metadata.get("autoreset_mode")
    secs, dones = _time_steps(env, actions, seed)
    env.close()
    return {
        "impl": f"metaworld {version('metaworld')} make_vec('Meta-World/MT1') {type(env).__name__} (MuJoCo C)",
        "device": "cpu",
        "build_s": build,
        "compile_s": 0.0,
        "step_s": secs,
        "episode_ends": dones,
        "autoreset_mode": str(mode),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--skill", default="reach-v3")
    p.add_argument("--num-envs", type=int, default=16)
    p.add_argument("--steps", type=int, default=1000, help="timed vector steps (after one warm-up step)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="bench_gym_vector.json")
    args = p.parse_args(argv)
    if args.num_envs < 1 or args.steps < 1:
        raise ValueError(f"--num-envs and --steps must be >= 1, got {args.num_envs}, {args.steps}")

    # metaworld's obs space is narrower than its reset observations: gymnasium's passive checker warns each step
    warnings.filterwarnings("ignore", module="gymnasium.utils.passive_env_checker")
    rng = np.random.default_rng(args.seed)
    actions = rng.uniform(-1, 1, (args.steps + 1, args.num_envs, 4)).astype(np.float32)
    rows = [
        bench_jaxmeta(args.skill, args.num_envs, actions, args.seed),
        bench_metaworld(args.skill, args.num_envs, actions, args.seed),
    ]
    for r in rows:
        r["env_steps_per_s"] = args.num_envs * args.steps / r["step_s"]
    result = {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "skill": args.skill,
        "num_envs": args.num_envs,
        "steps": args.steps,
        "seed": args.seed,
        "host": {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()},
        "versions": {p: version(p) for p in ("jax", "mujoco", "mujoco-mjx", "gymnasium", "metaworld")},
        "rows": rows,
    }
    head = "| impl | device | setup s (build + compile) | env-steps/s | episode ends |"
    print(f"{args.skill}, {args.num_envs} envs, {args.steps} steps, random actions")
    print(head)
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['impl']} | {r['device']} | {r['build_s']:.1f} + {r['compile_s']:.1f} | "
            f"{r['env_steps_per_s']:.0f} | {r['episode_ends']} |"
        )
    with open(args.out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
