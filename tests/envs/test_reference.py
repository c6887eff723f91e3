"""envs.reference: recorded metaworld rollouts are complete (replayable bitwise), expert success, throughput."""

import functools

import mujoco
import numpy as np
import pytest

import envs.reference as R
from envs.benchmarks import benchmark

N = 60  # steps per recorded rollout: enough for the pick-place expert to grasp and lift


@functools.lru_cache(maxsize=None)
def _task(skill, i=0):
    return benchmark(f"MT1/{skill}", 0).train_tasks[skill][i]


@functools.lru_cache(maxsize=None)
def _rollout(skill, n=N, noise=0.0):
    return R.record_expert_rollout(skill, _task(skill), n, seed=0, action_noise=noise)


SKILLS = ["reach-v3", "pick-place-v3"]


@pytest.mark.parametrize("skill", SKILLS)
def test_rollout_shapes_and_consistency(skill):
    r = _rollout(skill)
    env = R.make_metaworld_env(skill, _task(skill))
    nq, nv, nmocap = env.model.nq, env.model.nv, env.model.nmocap
    T = N
    assert r["action"].shape == (T, 4) and r["action"].dtype == np.float32
    assert r["obs"].shape == (T, 39) and r["reset_obs"].shape == (39,)
    for k in (
        "reward",
        "success",
        "terminated",
        "truncated",
        "info_near_object",
        "info_unscaled_reward",
        "time_before",
    ):
        assert r[k].shape == (T,), k
    for when in ("before", "after"):
        assert r[f"qpos_{when}"].shape == (T, nq)
        assert r[f"qvel_{when}"].shape == (T, nv)
        assert r[f"mocap_pos_{when}"].shape == (T, nmocap, 3)
        assert r[f"mocap_quat_{when}"].shape == (T, nmocap, 4)
        assert r[f"qacc_warmstart_{when}"].shape == (T, nv)
        assert r[f"state_{when}"].shape == (T, mujoco.mj_stateSize(env.model, mujoco.mjtState.mjSTATE_INTEGRATION))
    # after[t] is before[t+1]; reset state is before[0]
    np.testing.assert_array_equal(r["state_after"][:-1], r["state_before"][1:])
    np.testing.assert_array_equal(r["reset_state"], r["state_before"][0])
    # reset settles the hand for 50 x frame_skip(5) physics steps of 2.5 ms after mj_resetData
    assert r["time_before"][0] == pytest.approx(50 * 5 * env.model.opt.timestep)
    np.testing.assert_allclose(np.diff(r["time_before"]), 5 * env.model.opt.timestep)
    # frame stacking: reset obs has prev == curr; step obs[18:36] is the previous obs[:18]
    np.testing.assert_array_equal(r["reset_obs"][18:36], r["reset_obs"][:18])
    np.testing.assert_array_equal(r["obs"][0, 18:36], r["reset_obs"][:18])
    np.testing.assert_array_equal(r["obs"][1:, 18:36], r["obs"][:-1, :18])
    # goal visible (MT) = _target_pos; the episode constants include the reset-computed ones
    np.testing.assert_array_equal(r["obs"][:, 36:], np.broadcast_to(r["constants"]["_target_pos"], (T, 3)))
    for k in ("_target_pos", "obj_init_pos", "init_tcp", "hand_init_pos", "init_left_pad", "init_right_pad"):
        assert k in r["constants"], k
    assert {"_target_pos", "obj_init_pos", "init_tcp"} <= set(r["changed_by_reset"])
    np.testing.assert_array_equal(r["constants"]["_target_pos"], r["rand_vec"][3:])
    np.testing.assert_array_equal(r["model"]["site_pos"][env.model.site("goal").id], r["rand_vec"][3:])
    assert not r["truncated"].any() and not r["terminated"].any()


def test_partially_observable_hides_goal():
    r = R.record_expert_rollout("reach-v3", _task("reach-v3"), 3, partially_observable=True)
    assert not r["reset_obs"][36:].any() and not r["obs"][:, 36:].any()


@pytest.mark.parametrize("skill", SKILLS)
def test_recorded_state_reproduces_observation(skill):
    """qpos/qvel/mocap alone, copied into a fresh env of the same task + mj_forward, give obs[:18]."""
    r = _rollout(skill)
    env = R.make_metaworld_env(skill, _task(skill))
    for t in (0, 7, N // 2, N - 1):
        env.data.qpos[:] = r["qpos_after"][t]
        env.data.qvel[:] = r["qvel_after"][t]
        env.data.mocap_pos[:] = r["mocap_pos_after"][t]
        env.data.mocap_quat[:] = r["mocap_quat_after"][t]
        mujoco.mj_forward(env.model, env.data)
        np.testing.assert_allclose(env._get_curr_obs_combined_no_goal(), r["obs"][t, :18], rtol=0, atol=1e-12)


@pytest.mark.parametrize("skill", SKILLS)
def test_recorded_state_replays_steps_bitwise(skill):
    """The full recorded state (mjSTATE_INTEGRATION) + the frame-stack buffer + step counter is all metaworld's
    step depends on: restoring it into a fresh env and stepping reproduces obs, reward and state exactly."""
    r = _rollout(skill, N, 0.1)  # noisy actions: exercise the gripper and off-policy states
    env = R.make_metaworld_env(skill, _task(skill))
    for t in (0, 1, N // 2, N - 1):
        R.restore_state(env, r["state_before"][t])
        env._prev_obs = (r["reset_obs"] if t == 0 else r["obs"][t - 1])[:18].copy()
        env.curr_path_length = t
        obs, reward, _, _, info = env.step(r["action"][t])
        np.testing.assert_array_equal(obs, r["obs"][t])
        assert reward == r["reward"][t] and info["success"] == r["success"][t]
        np.testing.assert_array_equal(R.get_state(env), r["state_after"][t])


def test_expert_success_reach():
    vecs = benchmark("MT1/reach-v3", 0).train_tasks["reach-v3"][:3]
    assert R.expert_success_rate("reach-v3", vecs) == 1.0


def test_pick_place_expert_succeeds_in_rollout():
    r = _rollout("pick-place-v3", 200)
    assert r["success"].any() and r["success"].dtype == np.float64


def test_throughput_positive():
    sps = R.metaworld_throughput("reach-v3", n_steps=200, n_procs=1, rand_vec=_task("reach-v3"))
    assert sps > 0
    d = R.metaworld_throughput("reach-v3", n_steps=100, n_procs=2, rand_vec=_task("reach-v3"), return_details=True)
    assert d["steps_per_s"] > 0 and d["steps_per_cpu_s"] > 0 and len(d["worker_seconds"]) == 2


def test_unknown_skill():
    with pytest.raises(ValueError, match="valid skills"):
        R.make_metaworld_env("reach-v2", np.zeros(6))
