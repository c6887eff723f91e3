"""The open registry of training algorithms: `ALGOS` maps ``TrainConfig.algo`` to an `AlgoSpec` (the
network conditioning it fixes, and its learner factory as an import path, resolved on first use).

    register_algo(AlgoSpec("my-sac", "onehot", "my variant", learner="mypkg.learner:make_learner"))

Registering imports nothing heavy; `AlgoSpec.make_learner(config, buffer)` imports the factory.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jaxmeta.config import TrainConfig

__all__ = ["ALGOS", "AlgoSpec", "register_algo"]


@dataclasses.dataclass(frozen=True)
class AlgoSpec:
    """A training algorithm known to the trainer.

    conditioning: the `NetworkConfig.conditioning` it uses.
    learner: factory ``(config: TrainConfig, buffer: ReplayBuffer | None, constrain_batch=None) ->
        jaxmeta.learner.Learner``, or its import path ``"module:function"`` (resolved on first use, so
        registering an algorithm imports nothing heavy). Building a learner must not touch the buffer
        (the networks of a saved run are rebuilt with ``buffer=None``).
    loop: None for the replay loop (`jaxmeta.train.replay_loop`: act, store, sample), or a factory
        ``(config, env, mesh) -> jaxmeta.train.Loop`` (or its import path) for an algorithm with its own
        data path (on-policy rollouts); `jaxmeta.train.make_train` assembles the run program around it.
    preset: the preset ``jaxmeta train --algo NAME`` starts from when no ``--preset`` is given (None:
        ``default``): MT-SAC's is the main job's (``mt1-fast``, also taken with no ``--algo``); the others are
        for algorithms whose options differ from the SAC defaults (PPO: no warm-up).
    replay_kind: what ``TrainConfig.replay_kind`` says of an algorithm with its own loop (None: "on-policy").
    """

    name: str
    conditioning: str
    description: str = ""
    learner: Any = "jaxmeta.learner:make_sac_learner"
    loop: Any = None
    preset: str | None = None
    replay_kind: str | None = None

    def make_learner(self, config: "TrainConfig", buffer: Any = None, constrain_batch: Any = None):
        return _resolve(self.learner)(config, buffer, constrain_batch)

    def make_loop(self, config: "TrainConfig", env: Any, mesh: Any):
        return _resolve(self.loop)(config, env, mesh)


def _resolve(factory: Any) -> Any:
    """A factory, or the function its ``"module:function"`` import path names (imported now)."""
    if isinstance(factory, str):
        import importlib

        module, _, fn = factory.partition(":")
        factory = getattr(importlib.import_module(module), fn)
    return factory


ALGOS: dict[str, AlgoSpec] = {}


def register_algo(spec: AlgoSpec) -> AlgoSpec:
    """Add (or replace) an algorithm in the registry; returns it."""
    if not isinstance(spec, AlgoSpec) or not spec.name:
        raise ValueError(f"register_algo needs an AlgoSpec with a name, got {spec!r}")
    ALGOS[spec.name] = spec
    return spec


register_algo(AlgoSpec("mtsac", "onehot", "multi-task SAC, one-hot skill id appended to the inputs", preset="mt1-fast"))
register_algo(AlgoSpec("mhsac", "multihead", "multi-head SAC, shared trunk, one output head per skill"))
# PaCo / TaCo (paper 002): compositional networks (TrainConfig.paco; network.conditioning is unused)
register_algo(
    AlgoSpec(
        "paco",
        "onehot",
        "PaCo: K parameter sets per layer, theta_t = Phi w_t, loss mask-out and w-reset (TrainConfig.paco)",
        learner="jaxmeta.agents.paco.learner:make_paco_learner",
    )
)
register_algo(
    AlgoSpec(
        "taco",
        "onehot",
        "TaCo: PaCo with task sampling p_t (uniform / grouped / weighted / online "
        "DBSCAN; TrainConfig.paco.task_sampling)",
        learner="jaxmeta.agents.taco.learner:make_taco_learner",
    )
)
register_algo(
    AlgoSpec(
        "reptile",
        "onehot",
        "Reptile over MT-SAC (paper 001 Alg. 2): vmapped per-skill inner loops of k SAC updates, outer interpolation",
        learner="jaxmeta.agents.reptile.learner:make_reptile_learner",
    )
)
# PPO (Schulman et al. 2017): on-policy, its own rollout loop (TrainConfig.ppo)
register_algo(
    AlgoSpec(
        "ppo",
        "onehot",
        "PPO: clipped surrogate, GAE, minibatch epochs, observation normalisation (TrainConfig.ppo)",
        learner="jaxmeta.agents.ppo.train:make_ppo_learner",
        loop="jaxmeta.agents.ppo.train:make_ppo_loop",
        preset="ppo",
    )
)
# RL2 (Duan et al. 2016): a GRU policy over trials of one task, recurrent PPO (TrainConfig.rl2, .ppo)
register_algo(
    AlgoSpec(
        "rl2",
        "onehot",
        "RL2: recurrent policy over trials of episodes of one task, fed previous action / reward / done; PPO",
        learner="jaxmeta.agents.rl2.train:make_rl2_learner",
        loop="jaxmeta.agents.rl2.train:make_rl2_loop",
        preset="rl2",
    )
)
# PEARL (Rakelly et al. 2019): SAC on [obs, z], a context encoder, a replay per task (TrainConfig.pearl)
register_algo(
    AlgoSpec(
        "pearl",
        "onehot",
        "PEARL: SAC on [obs, z], probabilistic context encoder (product of Gaussians, KL), per-task replay, "
        "posterior sampling over episodes of one task (TrainConfig.pearl)",
        learner="jaxmeta.agents.pearl.train:make_pearl_learner",
        loop="jaxmeta.agents.pearl.train:make_pearl_loop",
        preset="pearl",
        replay_kind="per-task",
    )
)
