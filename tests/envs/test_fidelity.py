"""The MJX port against metaworld itself, for every ported skill.

1. reset: same rand_vec -> same initial observation (2e-5). Envs are built as the benchmarks build them
   (`settle_tasks` = the MT1 task set: metaworld's own reset state for skills whose settle depends on the
   task); test_simulated_settle_* checks the MJX-simulated settle used for tasks outside such a table.
2. state copy: metaworld's scripted expert drives metaworld's CPU env; each visited MuJoCo state (and
   metaworld's previous frame) is copied into the MJX env, whose observation / reward / success must
   equal metaworld's. Tolerances
   are float32 ones (MJX runs in float32, metaworld in float64): positions ~1e-5 m, rewards (0-10)
   ~1e-3 absolute, because the reward functions divide by margins and pass through 1/(1+x^2) tails.
   Contact-dependent terms (grasp flags) may differ where our primitive collision proxies touch
   differently from metaworld's meshes; they are not part of the reward/success of these skills
   except through `touching`, which is checked as an agreement rate.
3. closed loop: metaworld's scripted expert driving the MJX env succeeds within 10 points of its CPU
   success rate (quick: 2 skills x few tasks in the default run; all skills x 20 tasks with -m slow).
4. drift: from the same state with the same actions, how far MJX and CPU MuJoCo drift in 50 steps
   (printed as a report; a loose bound catches real breakage).

The default run checks 1, 2 and 4 for DEFAULT_RUN_SKILLS (no contacts / grasp contacts / an
articulated object), so it stays within the CI time budget: every skill costs three XLA compiles of
1-3 minutes each on a 2-core CPU with a cold cache. ``-m slow`` runs every check for every ported skill.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import envs
from envs import reference
from envs.skills import ported_skills

SKILLS = ported_skills()
#: Skills whose MJX-simulated reset settle (used for tasks outside the env's metaworld table) is checked, with
#: its measured tolerance: in handle-press metaworld places the handle box before its 50-step settle and the
#: arm brushes the grip on its way in, for every task (float32 MJX vs float64 MuJoCo: 1.6e-4 / 4.0e-4 m on
#: tasks 0 / 1). (door-lock / door-unlock's simulated settle is ~7 mm off: MJX's box-box impact differs.)
SIMULATED_SETTLE_ATOL = {"handle-press-v3": 1e-3}
DEFAULT_RUN_SKILLS = ("reach-v3", "push-v3", "drawer-close-v3")
QUICK_CLOSED_LOOP = [s for s in ("reach-v3", "drawer-close-v3", "push-v3") if s in SKILLS][:2]


def _per_skill(skills) -> list:
    """Parameters over `skills`: those outside DEFAULT_RUN_SKILLS carry the slow marker."""
    return [s if s in DEFAULT_RUN_SKILLS else pytest.param(s, marks=pytest.mark.slow) for s in skills]


@functools.lru_cache(maxsize=None)
def _tasks(skill: str) -> np.ndarray:
    return envs.benchmark(f"MT1/{skill}", seed=0).train_tasks[skill]


def _make(skill: str):
    """The env as make_multitask builds it for MT1/<skill>."""
    return envs.make(skill, settle_tasks=_tasks(skill))


@functools.lru_cache(maxsize=None)
def _jitted(skill: str):
    env = _make(skill)
    return env, jax.jit(env.reset), jax.jit(env.evaluate_state), jax.jit(env.step)


@functools.lru_cache(maxsize=None)
def _rollout(skill: str, task: int, n_steps: int):
    return reference.record_expert_rollout(skill, _tasks(skill)[task], n_steps)


@pytest.mark.parametrize("skill", _per_skill(SKILLS))
def test_reset_observation_matches_metaworld(skill):
    env, reset, _, _ = _jitted(skill)
    for t in range(3):
        rec = _rollout(skill, t, 1)
        state = reset(None, jnp.asarray(_tasks(skill)[t]))
        np.testing.assert_allclose(np.asarray(state.obs), rec["reset_obs"], atol=2e-5, err_msg=f"task {t}")


@pytest.mark.slow
@pytest.mark.parametrize("skill", [s for s in SIMULATED_SETTLE_ATOL if s in SKILLS])
def test_simulated_settle_reset_observation(skill):
    """Without a settle table (envs.make(skill)), the task-dependent settle is simulated in MJX."""
    env = envs.make(skill)
    assert env.sim.settle_table is None and env.skill.settle_body is not None
    reset = jax.jit(env.reset)
    for t in range(2):
        state = reset(None, jnp.asarray(_tasks(skill)[t]))
        assert float(state.task["settle_exact"]) == 0.0  # this settle touches the object: simulated
        np.testing.assert_allclose(
            np.asarray(state.obs),
            _rollout(skill, t, 1)["reset_obs"],
            atol=SIMULATED_SETTLE_ATOL[skill],
            err_msg=f"task {t}",
        )


@pytest.mark.parametrize("skill", _per_skill(SKILLS))
def test_state_copy_obs_reward_success_match_metaworld(skill):
    env, reset, evaluate, _ = _jitted(skill)
    n_steps = 120
    rec = _rollout(skill, 0, n_steps)
    state = reset(None, jnp.asarray(_tasks(skill)[0]))
    obs_err, rew_err, agree = [], [], []
    # the whole state is metaworld's, the previous frame included (its reset observation's first 18)
    prev = jnp.asarray(rec["reset_obs"][:18], jnp.float32)
    for t in range(len(rec["reward"])):
        st = state.replace(prev_frame=prev)
        obs, reward, info, frame = evaluate(
            st,
            rec["qpos_after"][t],
            rec["qvel_after"][t],
            rec["mocap_pos_after"][t],
            rec["mocap_quat_after"][t],
            rec["action"][t],
        )
        prev = frame
        obs_err.append(np.abs(np.asarray(obs) - rec["obs"][t]).max())
        rew_err.append(abs(float(reward) - rec["reward"][t]))
        agree.append(float(info["success"]) == rec["success"][t])
    print(
        f"\n{skill}: state-copy over {len(rew_err)} steps: max |obs| err {max(obs_err):.2e}, "
        f"max |reward| err {max(rew_err):.2e}, success agreement {np.mean(agree):.3f}"
    )
    assert max(obs_err) < 1e-4
    assert max(rew_err) < 2e-3
    assert np.mean(agree) >= 0.99


def _closed_loop_success(skill: str, n_tasks: int, max_steps: int = 500) -> tuple[float, float]:
    """(MJX success rate, metaworld success rate) of the scripted expert over the first n_tasks tasks
    (multiples of 1 / n_tasks: compare them as task counts, ``round(rate * n_tasks)``)."""
    from metaworld.policies import ENV_POLICY_MAP

    env = _make(skill)
    tasks = jnp.asarray(_tasks(skill)[:n_tasks])
    state = jax.jit(jax.vmap(env.reset, in_axes=(None, 0)))(None, tasks)
    step = jax.jit(jax.vmap(env.step))
    policy = ENV_POLICY_MAP[skill]()
    success = np.zeros(n_tasks, bool)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(max_steps):
            obs = np.asarray(state.obs, np.float64)
            actions = np.stack([np.clip(policy.get_action(o), -1, 1) for o in obs]).astype(np.float32)
            state = step(state, jnp.asarray(actions))
            success |= np.asarray(state.info["success"]) > 0
            if success.all():
                break
    cpu = reference.expert_success_rate(skill, np.asarray(_tasks(skill)[:n_tasks]), max_steps=max_steps)
    return float(success.mean()), float(cpu)


@pytest.mark.parametrize("skill", QUICK_CLOSED_LOOP)
def test_expert_closed_loop_quick(skill):
    mjx_rate, cpu_rate = _closed_loop_success(skill, n_tasks=4, max_steps=300)
    print(f"\n{skill}: expert success MJX {mjx_rate:.2f} vs metaworld {cpu_rate:.2f} (4 tasks, 300 steps)")
    assert mjx_rate >= cpu_rate - 0.25  # 4 tasks: one task of slack


@pytest.mark.slow
@pytest.mark.parametrize("skill", SKILLS)
def test_expert_closed_loop_within_10_points(skill):
    mjx_rate, cpu_rate = _closed_loop_success(skill, n_tasks=20)
    print(f"\n{skill}: expert success MJX {mjx_rate:.2f} vs metaworld {cpu_rate:.2f} (20 tasks)")
    # within 10 points = at most 2 of the 20 tasks apart (counted in integers: 0.95 - 0.85 is not <= 0.1
    # in every float rounding)
    assert abs(round(mjx_rate * 20) - round(cpu_rate * 20)) <= 2


@pytest.mark.parametrize("skill", _per_skill(SKILLS))
def test_dynamics_drift_report(skill):
    """Same start state, same actions, 50 env steps: report how far hand and objects drift."""
    env, reset, _, step = _jitted(skill)
    rec = _rollout(skill, 0, 50)
    state = reset(None, jnp.asarray(_tasks(skill)[0]))
    hand, objs = [], []
    for t in range(len(rec["reward"])):
        state = step(state, jnp.asarray(rec["action"][t]))
        d = np.abs(np.asarray(state.obs) - rec["obs"][t])
        hand.append(d[:3].max())
        objs.append(d[4:7].max())
    print(
        f"\n{skill}: drift over {len(hand)} steps: hand max {max(hand):.2e} m (final {hand[-1]:.2e}), "
        f"object max {max(objs):.2e} m (final {objs[-1]:.2e})"
    )
    assert max(hand) < 0.02
    assert max(objs) < 0.05
