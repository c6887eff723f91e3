"""Meta-testing a saved policy without gradient steps: `meta_test(policy, config, split=, trials=, seed=)`.

For algorithms whose policy adapts within a trial of episodes of one task (RL2's hidden state, PEARL's
posterior over z; their `jaxmeta.learner.Learner` has ``load_policy``): ``trials`` trials per skill on
`split`'s tasks (``"test"``: an ML benchmark's held-out tasks or skills) of the policy's mean, or of samples
of the policy with ``how="sample"`` (RL2 explores within a trial by sampling), through the trainer's own
evaluation (`jaxmeta.train.make_train(...).evaluate`; it compiles that env's run program). A trial's success
is its last episode's, its return the sum over its episodes.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from jaxmeta.config import ALGOS

__all__ = ["meta_test"]


def meta_test(
    policy: dict, config, *, split: str = "test", trials: int | None = None, seed: int = 0, how: str | None = None
) -> dict:
    """policy: `jaxmeta.checkpoint.restore_policy` of a run (its ``actor_params`` are read); config: the
    run's `TrainConfig`; how: ``"mean"`` / ``"sample"`` (default: the run's ``eval_policy``). Returns the
    evaluation metrics (``success`` / ``return`` () and ``*_per_skill`` (S,), per trial) and ``skills``. ValueError for an algorithm without ``load_policy``."""
    from jaxmeta.programs import compile_programs
    from jaxmeta.train import make_train

    learner = ALGOS[config.algo].make_learner(config)
    if learner.load_policy is None:
        raise ValueError(
            f"meta_test evaluates algorithms that adapt within a trial (rl2, pearl), got algo {config.algo!r} "
            "(evaluate it with jaxmeta eval RUN)"
        )
    cfg = config.replace(
        split=split,
        eval_episodes=int(trials or config.eval_episodes),
        eval_policy=how or config.eval_policy,
        num_seeds=1,
        out=None,
        task_indices=None,
    )
    trainer = make_train(cfg)
    programs = compile_programs(trainer)
    ts = programs.init_state(trainer.seed_key(0))
    agent = trainer.learner.load_policy(ts.agent, policy["actor_params"])
    agent = jax.tree.map(lambda new, old: jax.device_put(jnp.asarray(new, old.dtype), old.sharding), agent, ts.agent)
    _, ev = programs.evaluate(ts.replace(agent=agent), jax.random.PRNGKey(seed))
    return {**jax.device_get(ev), "skills": tuple(trainer.skills)}
