"""What the trainer (`jaxmeta.train`) needs from an env and from run hooks, as typed protocols.

`TrainEnv`: a batched multi-task env (``N = num_skills * envs_per_skill`` instances, skill-major rows),
pure and jit-able; `envs.multitask.MultiTaskEnv` and `envs.toy.ToyMultiTaskEnv` are the two in the
project, and any object with these members trains::

    pool = env.reset_pool()                 # every task's reset state (a pytree; () when trivial)
    state = env.start(key, pool)            # all N instances at a fresh reset, tasks drawn with key
    state = env.step(state, actions (N, A)) # one step of every instance, auto-reset when done

`TrainEnvState` lists the fields of the state the trainer reads: ``obs (N, O)`` (after auto-reset),
``final_obs (N, O)`` (the true next observation, before auto-reset), ``reward (N,)``, ``done (N,)``
(truncated at ``max_path_length``; Meta-World never terminates), ``episode_success (N,)`` (any step of
the episode so far succeeded), ``skill_id (N,)`` int32 (the conditioning index of each row's skill),
``physics_nan (N,)`` and ``nonfinite_action (N,)`` (fault counters), ``reset_pool`` (the pool given to
`start`, carried for auto-resets).

An env that splits its reset pool into one program per physics group (`envs.multitask`) also has
``num_physics_groups``, ``group_tasks(gi)``, ``group_reset_pool(gi, tasks)`` and
``skill_order(per_group)``; the driver then compiles those small programs on their own.

`RunHooks`: optional extensions of one `jaxmeta.train.train` run (fine-tuning is the user,
`jaxmeta.finetune.FinetuneHooks`). `NoHooks` is the default: each member does nothing, so a hook class
can subclass it and override what it needs.
"""

from __future__ import annotations

from typing import Any, Mapping, Protocol, Sequence, runtime_checkable

import jax

Metrics = dict[str, Any]

__all__ = ["NoHooks", "RunHooks", "TrainEnv", "TrainEnvState", "check_hooks"]


@runtime_checkable
class TrainEnvState(Protocol):
    obs: jax.Array
    final_obs: jax.Array
    reward: jax.Array
    done: jax.Array
    episode_success: jax.Array
    skill_id: jax.Array
    physics_nan: jax.Array
    nonfinite_action: jax.Array
    reset_pool: Any


@runtime_checkable
class TrainEnv(Protocol):
    @property
    def skills(self) -> Sequence[str]: ...
    @property
    def num_skills(self) -> int: ...
    @property
    def num_envs(self) -> int: ...
    @property
    def observation_size(self) -> int: ...
    @property
    def action_size(self) -> int: ...

    def reset_pool(self) -> Any: ...
    def start(self, key: jax.Array, pool: Any) -> TrainEnvState: ...
    def step(self, state: TrainEnvState, actions: jax.Array) -> TrainEnvState: ...


@runtime_checkable
class RunHooks(Protocol):
    """Members, in the order the driver uses them:

    compile(trainer, programs): compile the hooks' own programs (after the run's; timings may go into
        ``programs.compile_s``).
    init_state(trainer, programs) -> TrainState | None: a fresh run's initial state; None for the
        default ``programs.init_state(...)``. (Not called on resume.)
    eval_at_start: evaluate before the first chunk of a fresh run (logged as chunk 0: zero-shot).
    eval_skills: ``{name: skills}`` of extra evaluations, logged as ``<name>_success[/<skill>]``.
    evaluate(trainer, actor_params, chunk) -> {name: metrics}: the extra evaluations after `chunk`.
    finish(summary, rows): add to the run's summary (a dict) from its metrics.csv rows.
    """

    eval_at_start: bool
    eval_skills: Mapping[str, Sequence[str]]

    def compile(self, trainer: Any, programs: Any) -> None: ...
    def init_state(self, trainer: Any, programs: Any) -> Any: ...
    def evaluate(self, trainer: Any, actor_params: Any, chunk: int) -> Mapping[str, Metrics]: ...
    def finish(self, summary: dict, rows: list[dict]) -> None: ...


class NoHooks:
    """The default `RunHooks`: nothing extra."""

    eval_at_start: bool = False
    eval_skills: Mapping[str, Sequence[str]] = {}

    def compile(self, trainer: Any, programs: Any) -> None:
        return None

    def init_state(self, trainer: Any, programs: Any) -> Any:
        return None

    def evaluate(self, trainer: Any, actor_params: Any, chunk: int) -> Mapping[str, Metrics]:
        return {}

    def finish(self, summary: dict, rows: list[dict]) -> None:
        return None


def check_hooks(hooks: Any) -> RunHooks:
    """`hooks` itself (`NoHooks()` for None) if it has every `RunHooks` member; else a TypeError naming
    the missing ones (subclass `NoHooks` to inherit defaults)."""
    if hooks is None:
        return NoHooks()
    members = ("eval_at_start", "eval_skills", "compile", "init_state", "evaluate", "finish")
    missing = [m for m in members if not hasattr(hooks, m)]
    if missing:
        raise TypeError(
            f"run hooks {type(hooks).__name__} lack {', '.join(missing)} (jaxmeta.interfaces.RunHooks; "
            "subclass jaxmeta.interfaces.NoHooks for the defaults)"
        )
    return hooks
