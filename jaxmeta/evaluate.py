"""Meta-World-style evaluation, fully on device.

Per skill, ``episodes`` episodes (one per instance of a separate batched eval env with
``envs_per_skill = episodes``), each from a fresh reset with a task drawn from the skill's task set; an
episode succeeds if *any* of its ``max_path_length`` steps succeeds (metaworld's criterion). Actions are
deterministic, ``tanh(mean)``. The whole rollout is one jitted `lax.scan` of ``max_path_length`` env
steps; success per skill is the mean over its episodes and the headline number is the mean over skills.

    evaluate = make_evaluate(eval_env, networks, max_path_length=500)
    ev = jax.jit(evaluate)(actor_params, key)   # success (), success_per_skill (T,), return, return_per_skill

    ev = evaluate_checkpoint("checkpoints/reach", episodes=50)   # a saved run's policy, as host numbers
"""

from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from jaxmeta.networks import Networks

__all__ = ["evaluate_checkpoint", "make_evaluate"]


def make_evaluate(eval_env: Any, networks: Networks, max_path_length: int) -> Callable[[Any, jax.Array], dict]:
    """``evaluate(actor_params, key) -> metrics`` for a batched multi-task env (skill-major rows).

    `eval_env` must truncate episodes after `max_path_length` steps (so each instance runs exactly one
    episode). Returns ``success`` (mean over skills), ``success_per_skill (T,)``, ``return``,
    ``return_per_skill (T,)`` (undiscounted episode returns, mean over episodes)."""
    T, E = eval_env.num_skills, eval_env.envs_per_skill

    def evaluate(actor_params: Any, key: jax.Array) -> dict:
        s = eval_env.reset(key)

        def body(carry, _):
            s, succ, ret = carry
            a = networks.deterministic_action(actor_params, s.obs, s.skill_id)
            s = eval_env.step(s, a)
            return (s, succ | s.success, ret + s.reward), None

        init = (s, jnp.zeros((T * E,), bool), jnp.zeros((T * E,), jnp.float32))
        (_, succ, ret), _ = jax.lax.scan(body, init, None, length=max_path_length)
        sp = jnp.mean(succ.reshape(T, E).astype(jnp.float32), axis=1)
        rp = jnp.mean(ret.reshape(T, E), axis=1)
        return {"success": jnp.mean(sp), "success_per_skill": sp, "return": jnp.mean(rp), "return_per_skill": rp}

    return evaluate


def evaluate_checkpoint(
    run_dir: str, episodes: int | None = None, seed: int = 0, step: int | None = None, seed_index: int | None = 0
) -> dict:
    """Evaluate the policy of a saved run on its benchmark (compiles the eval program).

    Returns host values: ``success``, ``success_per_skill`` as {skill: rate}, ``return``."""
    import numpy as np

    from jaxmeta.checkpoint import restore_policy
    from jaxmeta.config import ALGOS
    from jaxmeta.train import make_env

    pol = restore_policy(run_dir, step=step, seed_index=seed_index)
    cfg = pol["config"]
    n = episodes or cfg.eval_episodes
    env = make_env(cfg, n)
    networks = ALGOS[cfg.algo].make_learner(cfg).networks
    ev = jax.jit(make_evaluate(env, networks, cfg.max_path_length))
    out = jax.device_get(ev(pol["actor_params"], jax.random.PRNGKey(seed)))
    return {
        "success": float(out["success"]),
        "success_per_skill": {s: float(v) for s, v in zip(env.skills, np.asarray(out["success_per_skill"]))},
        "return": float(out["return"]),
        "episodes_per_skill": n,
        "step": pol["step"],
    }
