"""jaxmeta.train on the tiny pure-JAX toy env (fast), multi-device sharding in a subprocess, and a
slow-marked learning check of the default preset on the real MJX reach-v3."""

from __future__ import annotations

import jaxmeta  # noqa: F401  (XLA flags before JAX)

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxmeta.config import TrainConfig
from jaxmeta.networks import NetworkConfig
from jaxmeta.train import compile_programs, make_train

TINY = dict(
    benchmark="toy/2",
    envs_per_skill=4,
    max_path_length=20,
    total_steps=640,
    warmup_steps=160,
    chunk_steps=160,
    batch_size=32,
    buffer_capacity=4096,
    network=NetworkConfig(hidden=(32, 32)),
    eval_episodes=2,
    eval_every=0,
    checkpoint_every=0,
)


def tiny(**kw) -> TrainConfig:
    return TrainConfig(**{**TINY, **kw})


@pytest.fixture(scope="module")
def per():
    """One trainer + jitted programs shared by the tests (compiled once; the persistent cache makes
    later sessions cheap). The chunk donates its input: pass copies to reuse a state."""
    cfg = tiny(per=True)
    tr = make_train(cfg)
    return cfg, tr, jax.jit(tr.init), jax.jit(tr.chunk, donate_argnums=0), jax.jit(tr.evaluate)


def _copy(tree):
    return jax.tree.map(jnp.copy, tree)


@pytest.fixture(scope="module")
def per_run(per):
    """Two chunks of a PER run: chunk 1 is all warm-up, chunk 2 learns."""
    cfg, tr, init, chunk, _ = per
    ts0 = init(tr.seed_key(0))
    ts1, m1 = chunk(_copy(ts0))
    ts2, m2 = chunk(_copy(ts1))
    return cfg, tr, ts0, (ts1, jax.device_get(m1)), (ts2, jax.device_get(m2))


def test_config_arithmetic():
    cfg = tiny()
    assert cfg.num_envs == 8 and cfg.iters_per_chunk == 20 and cfg.env_steps_per_chunk == 160
    assert cfg.num_chunks == 4 and cfg.learning_starts == 160
    assert cfg.network.num_skills == 2 and cfg.sac.num_skills == 2 and cfg.network.conditioning == "onehot"
    assert tiny(algo="mhsac").network.conditioning == "multihead"
    # fractional replay ratio: 1 update every 3 batched steps; chunk rounded up to whole iterations
    c = tiny(updates_per_step=1, steps_per_update=3)
    assert c.env_steps_per_iter == 24 and c.iters_per_chunk == 7 and c.env_steps_per_chunk == 168
    assert [c2 for c2 in range(1, 5) if tiny(eval_every=300).due(c2, 300)] == [2, 4]
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg


def test_chunk_runs_jitted_and_metrics_finite(per_run):
    cfg, tr, ts0, (ts1, m1), (ts2, m2) = per_run
    N = cfg.num_envs
    assert int(m1["env_steps"]) == 160 and int(m2["env_steps"]) == 320
    # chunk 1 is warm-up: updates start once 160 env steps are stored, i.e. after its last env step
    assert int(m1["updates"]) == cfg.updates_per_step
    assert int(m2["updates"]) == (cfg.iters_per_chunk + 1) * cfg.updates_per_step
    for k, v in m2.items():
        if k != "episode_success_per_skill":
            assert np.all(np.isfinite(v)), (k, v)
    assert m2["episodes"] == 320 // cfg.max_path_length and m2["finished"] == 160 // cfg.max_path_length
    assert 0.0 < m2["per_beta"] <= 1.0
    # params moved, counters consistent
    assert int(ts2.agent.step) == int(m2["updates"])
    assert 0.4 < float(m2["per_beta"]) <= 0.4 + 0.6 * int(m2["updates"]) / cfg.total_updates
    diff = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), ts1.agent.actor_params, ts2.agent.actor_params)
    assert max(jax.tree.leaves(diff)) > 0
    assert ts2.episode_return.shape == (N,)


def test_replay_fills(per_run):
    cfg, tr, ts0, (ts1, _), (ts2, _) = per_run
    assert int(ts0.replay.size) == 0
    assert int(ts1.replay.size) == 160 and int(ts2.replay.size) == 320
    np.testing.assert_array_equal(np.asarray(ts2.replay.skill_counts), [160, 160])
    items = jax.device_get(ts2.replay.items)
    assert np.all(items.discount[:320] == 1.0)
    # next_obs of a stored transition is the obs the policy saw next (except at episode ends)
    N = cfg.num_envs
    np.testing.assert_array_equal(items.next_obs[0:N][:, :3], items.obs[N : 2 * N][:, :3])
    # PER priorities were refreshed from TD errors (not all equal to the initial max priority)
    leaves = np.asarray(ts2.replay.priority_tree)[-4096:][:320]
    assert len(np.unique(leaves)) > 10


def test_warmup_uses_random_actions(per):
    """Actions in warm-up do not depend on the policy; after it they are the policy's."""
    cfg, tr, init, chunk, _ = per
    assert cfg.warmup_steps == cfg.env_steps_per_chunk == 160
    ts = init(tr.seed_key(0))
    head = ts.agent.actor_params["params"]["mlp"]["head"]
    # a policy that always outputs tanh(5) (zero kernel, log_std -20)
    head = {"kernel": jnp.zeros_like(head["kernel"]), "bias": jnp.array([5.0] * 4 + [-20.0] * 4)}
    params = {
        "params": {**ts.agent.actor_params["params"], "mlp": {**ts.agent.actor_params["params"]["mlp"], "head": head}}
    }
    ts_b = ts.replace(agent=ts.agent.replace(actor_params=params))
    a_a = jax.device_get(chunk(_copy(ts))[0].replay.items.action)
    out_b = chunk(ts_b)[0]
    out_b = chunk(out_b)[0]
    a_b = jax.device_get(out_b.replay.items.action)
    np.testing.assert_array_equal(a_a[:160], a_b[:160])  # warm-up: same random actions either way
    assert a_a[:160].min() < -0.9 and a_a[:160].max() > 0.9 and abs(a_a[:160].mean()) < 0.1
    first_policy = a_b[160 : 160 + cfg.num_envs]  # first batched step after warm-up, before any update
    np.testing.assert_allclose(first_policy, np.tanh(5.0), atol=1e-5)


def test_seeds_vmap_differ_and_seed0_matches_single_run(per):
    cfg = tiny(num_seeds=2, per=True)
    tr = make_train(cfg)
    ts = jax.jit(tr.init_batch)(tr.run_key())
    ts, m = jax.jit(tr.chunk_batch, donate_argnums=0)(ts)
    ts, m = jax.jit(tr.chunk_batch, donate_argnums=0)(ts)
    m = jax.device_get(m)
    assert m["env_steps"].shape == (2,) and m["episode_success_per_skill"].shape == (2, 2)
    assert m["episode_return"][0] != m["episode_return"][1]
    a0 = jax.tree.leaves(ts.agent.actor_params)[0]
    assert not np.allclose(a0[0], a0[1])
    # seed 0 of the vmapped program is the single-seed run (up to float reassociation under vmap)
    _, single, init, chunk, _ = per
    s = init(single.seed_key(0))
    s, m1 = chunk(s)
    s, m1 = chunk(s)
    np.testing.assert_allclose(m["episode_return"][0], m1["episode_return"], rtol=1e-4)
    np.testing.assert_allclose(m["critic_loss"][0], m1["critic_loss"], rtol=1e-3)


def test_evaluate_deterministic_and_per_skill(per):
    cfg, tr, init, _, ev = per
    ts = init(tr.seed_key(0))
    e1 = jax.device_get(ev(ts, tr.eval_key(3)[0]))
    e2 = jax.device_get(ev(ts, tr.eval_key(3)[0]))
    assert e1["success_per_skill"].shape == (2,)
    jax.tree.map(np.testing.assert_array_equal, e1, e2)
    # an oracle-like "policy" cannot be expressed by params, so check success accounting on the env:
    from envs.toy import make_toy_multitask

    env = make_toy_multitask(1, 3, max_path_length=5)
    s = env.reset(jax.random.PRNGKey(0))
    goal = s.obs[:, 36:39]
    for _ in range(5):  # head straight for the goal
        s = env.step(s, jnp.concatenate([jnp.clip((goal - s.obs[:, :3]) / 0.1, -1, 1), jnp.zeros((3, 1))], 1))
    assert bool(jnp.all(s.episode_success)) and bool(jnp.all(s.done))


def test_mhsac_trains():
    cfg = tiny(algo="mhsac", balanced=True, total_steps=320)
    tr = make_train(cfg)
    ts = jax.jit(tr.init)(tr.seed_key(0))
    assert "head_kernel" in ts.agent.actor_params["params"]["mlp"]
    chunk = jax.jit(tr.chunk)
    ts, _ = chunk(ts)
    ts, m = chunk(ts)
    assert np.isfinite(float(m["critic_loss"])) and int(m["updates"]) > 0


def test_compile_programs_aot(per):
    cfg, tr, _, _, _ = per
    progs = compile_programs(tr)
    assert set(progs.compile_s) >= {"run", "init", "lower", "total"}
    ts = progs.init_state(tr.seed_key(0))
    ts, m = progs.chunk(ts)
    assert int(m["env_steps"]) == cfg.env_steps_per_chunk


def _maps() -> int:
    with open("/proc/self/maps") as f:
        return sum(1 for _ in f)


@pytest.mark.skipif(not os.path.exists("/proc/self/maps"), reason="counts Linux memory mappings")
def test_a_reset_pool_executable_is_unmapped_once_its_function_and_lowering_are_dropped():
    """compile_programs relies on this: `_lower_pool_parts` keeps no reference to the functions it lowers
    (JAX's caches key on the function and keep its lowering, hence the executable, loaded while it lives),
    so a part run and dropped gives its machine code's memory mappings back (`vm.max_map_count`)."""
    import gc

    import envs
    from envs.multitask import make_multitask
    from jaxmeta.programs import _lower_pool_parts, _pool_parts

    env = make_multitask(envs.benchmark("MT1/reach-v3"), 2)
    first, second = _pool_parts(env), _pool_parts(env)
    assert len(first) == env.num_physics_groups == 1 and first[0] is not second[0]
    del first, second
    before = _maps()
    ((name, lowered),) = _lower_pool_parts(env).items()
    assert name == "reset_pool_0"
    pool = jax.block_until_ready(lowered.compile()())
    loaded = _maps()
    del lowered
    gc.collect()
    assert loaded - before > 200  # (reach's pool: ~850 mappings of code and data)
    assert _maps() - before < (loaded - before) / 4, (before, loaded, _maps())
    assert jax.tree.leaves(pool)


_SHARD_SCRIPT = textwrap.dedent(
    """
    import os, json
    import jaxmeta
    from envs._runtime import enable_compilation_cache
    enable_compilation_cache()
    import jax, jax.numpy as jnp, numpy as np
    from jaxmeta.config import TrainConfig
    from jaxmeta.networks import NetworkConfig
    from jaxmeta.train import make_train, compile_programs
    assert len(jax.devices()) == 2, jax.devices()
    kw = json.loads(os.environ["TINY"])
    kw["network"] = NetworkConfig(**kw["network"])
    out = {"flags": os.environ["XLA_FLAGS"]}
    for seeds in (1, 2):
        cfg = TrainConfig(**kw, num_seeds=seeds)
        res = {}
        for d in ((1, 2) if seeds == 1 else (2,)):
            tr = make_train(cfg, num_devices=d)
            p = compile_programs(tr)
            ts = p.init_state(tr.run_key() if seeds > 1 else tr.seed_key(0))
            for _ in range(2):
                ts, m = p.chunk(ts)
            ts, ev = p.evaluate(ts, tr.eval_key(2) if seeds > 1 else tr.eval_key(2)[0])
            res[d] = (jax.device_get(m), ts.env.obs.sharding.num_devices if seeds == 1 else None,
                      len(ts.agent.actor_params["params"]["mlp"]["head"]["bias"].sharding.device_set))
        (m1, _, _), (m2, env_devs, _) = res.get(1, res[2]), res[2]
        out[seeds] = {
            "devices": p.num_devices,
            "env_obs_devices": env_devs,
            "critic_loss": [np.asarray(m1["critic_loss"]).tolist(), np.asarray(m2["critic_loss"]).tolist()],
            "reward": [np.asarray(m1["reward"]).tolist(), np.asarray(m2["reward"]).tolist()],
            "updates": [np.asarray(m1["updates"]).tolist(), np.asarray(m2["updates"]).tolist()],
        }
    print("RESULT" + json.dumps(out))
    """
)


def test_state_shardings_split_only_axes_the_device_count_divides():
    """Single-seed sharding splits the env state over devices along its per-env axis; plan_devices picks a
    device count dividing envs_per_skill (and the batch). The MJX env's reset pool (leading axis: a skill's
    50 tasks) is replicated, else 4 or 8 devices could not shard it (50 % 4 != 0: IndivisibleError)."""
    from jax.sharding import Mesh, PartitionSpec as P

    from jaxmeta.train import state_shardings

    cfg = tiny(benchmark="MT1/reach-v3", envs_per_skill=8)
    tr = make_train(cfg, num_devices=1)
    abstract = jax.eval_shape(tr.init, tr.seed_key(0))
    sh = state_shardings(abstract, Mesh(np.asarray(jax.devices()[:1]), ("data",)), batched=False)
    pool = jax.tree.leaves(sh.env.reset_pool)
    assert pool and all(x.spec == P() for x in pool)
    assert jax.tree.leaves(abstract.env.reset_pool)[0].shape[0] == 50
    split = [(a.shape, s.spec) for a, s in zip(jax.tree.leaves(abstract), jax.tree.leaves(sh)) if s.spec == P("data")]
    assert split and all(shape[0] % cfg.envs_per_skill == 0 for shape, _ in split), split


def test_sharding_two_cpu_devices():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=2").strip()
    kw = {**TINY, "network": {"hidden": [32, 32]}}
    env["TINY"] = json.dumps(kw)
    r = subprocess.run([sys.executable, "-c", _SHARD_SCRIPT], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.split("RESULT", 1)[1])
    # envs/_runtime appended its CPU flag and kept ours
    assert "xla_force_host_platform_device_count=2" in out["flags"] and "xla_cpu_use_fusion_emitters" in out["flags"]
    o = out["1"]  # env batch + replay batch sharded vs one device: same run up to float reassociation
    assert o["devices"] == 2 and o["env_obs_devices"] == 2
    assert o["updates"][0] == o["updates"][1]
    np.testing.assert_allclose(o["critic_loss"][0], o["critic_loss"][1], rtol=2e-2)
    np.testing.assert_allclose(o["reward"][0], o["reward"][1], rtol=2e-2)
    o = out["2"]  # seed axis sharded: runs, seeds differ
    assert o["devices"] == 2 and o["updates"][1] == [o["updates"][1][0]] * 2
    assert np.all(np.isfinite(o["critic_loss"][1])) and o["reward"][1][0] != o["reward"][1][1]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mt1-fast", "default"])
def test_default_preset_learns_reach(tmp_path, name):
    """The main job's preset (`mt1-fast`) and `default` reach >= 90% evaluation success on MT1/reach-v3 (real
    MJX env) and keep it.

    Deterministic evaluation of reach fluctuates between chunks (success needs the tcp within 5 cm,
    where the shaped reward is almost flat), so "reaches" is the best evaluation of the run, and the
    final one must still be high. Cold: ~3-5 min compile + ~5 min training on a loaded 2-core CPU."""
    from jaxmeta.config import preset
    from jaxmeta.train import train

    summary = train(preset(name, out=str(tmp_path / "run")), progress=False)
    assert summary["completed"]
    assert summary["best_eval_success"] >= 0.9, summary
    assert summary["final_eval"]["success"] >= 0.75, summary["final_eval"]


def _count_calls(jaxpr, name: str) -> int:
    """Calls of the jitted sub-program `name` in a closed jaxpr, nested jaxprs included (loop bodies and
    cond branches count once each: what XLA compiles)."""
    from jax.extend import core as jex_core

    n = 0
    for eqn in jaxpr.eqns:
        if eqn.params.get("name") == name:
            n += 1
            continue
        for p in eqn.params.values():
            for sub in p if isinstance(p, (tuple, list)) else (p,):
                if isinstance(sub, jex_core.ClosedJaxpr):
                    n += _count_calls(sub.jaxpr, name)
                elif isinstance(sub, jex_core.Jaxpr):
                    n += _count_calls(sub, name)
    return n


@pytest.mark.parametrize("benchmark", ["toy/2", "MT1/reach-v3"])
def test_run_program_holds_one_env_step_and_init_no_reset_physics(benchmark):
    """Training and evaluation share the run program's single env step (the env is compiled once per run),
    and init given the reset pool holds no reset physics (traced only, nothing compiled)."""
    cfg = tiny(benchmark=benchmark)
    tr = make_train(cfg, num_devices=1)
    pool = jax.eval_shape(tr.env.reset_pool)
    ts = jax.eval_shape(tr.init, tr.seed_key(0), pool)
    key = jax.ShapeDtypeStruct((2,), jnp.uint32)
    run = jax.make_jaxpr(tr.run)(ts, key, jax.ShapeDtypeStruct((), jnp.bool_))
    assert _count_calls(run.jaxpr, "step_env") == 1
    assert _count_calls(jax.make_jaxpr(tr.chunk)(ts).jaxpr, "step_env") == 1
    init = jax.make_jaxpr(tr.init)(jax.ShapeDtypeStruct((2,), jnp.uint32), pool)
    prims = {e.primitive.name for e in init.jaxpr.eqns}
    assert "scan" not in prims and "while" not in prims, prims  # the pool's lax.map / physics loops


def test_evaluation_through_the_run_program_leaves_training_unchanged(per):
    """An evaluation (same program, evaluating=True) returns the training state as it was: the chunks after
    it are those of a run never evaluated; it equals the standalone `evaluate`, counts exactly
    eval_episodes episodes per skill over ceil(eval_episodes / envs_per_skill) rounds."""
    cfg = tiny(per=True, eval_episodes=6)  # 4 envs per skill: 2 rounds, 6 of 8 episodes counted
    tr = make_train(cfg, num_devices=1)
    progs = compile_programs(tr)
    a = progs.init_state(tr.seed_key(0))
    a, _ = progs.chunk(a)
    a, ev = progs.evaluate(a, tr.eval_key(1)[0])
    a, ma = progs.chunk(a)
    b = progs.init_state(tr.seed_key(0))
    b, _ = progs.chunk(b)
    b, mb = progs.chunk(b)
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(ma), jax.device_get(mb))
    jax.tree.map(np.testing.assert_array_equal, jax.device_get(a), jax.device_get(b))
    ev = jax.device_get(ev)
    assert ev["success_per_skill"].shape == (2,)
    np.testing.assert_array_equal(ev["episodes_per_skill"], [6, 6])
    b2 = progs.init_state(tr.seed_key(0))
    b2, _ = progs.chunk(b2)
    standalone = jax.device_get(jax.jit(tr.evaluate)(b2, tr.eval_key(1)[0]))
    jax.tree.map(np.testing.assert_array_equal, standalone, ev)


def _toy_cfg(algo: str, **kw) -> TrainConfig:
    if algo == "mtsac":
        return tiny(eval_episodes=4, **kw)
    from tests.jaxmeta.test_pearl_train import pearl_cfg
    from tests.jaxmeta.test_ppo_train import ppo_cfg
    from tests.jaxmeta.test_rl2_train import rl2_cfg

    return {"ppo": ppo_cfg, "rl2": rl2_cfg, "pearl": pearl_cfg}[algo](**kw)


@pytest.mark.parametrize("algo", ["mtsac", "ppo", "rl2", "pearl"])
def test_sampled_evaluation_draws_from_the_eval_key_and_leaves_training_unchanged(algo):
    """eval_policy="sample": evaluations act with samples of the policy drawn from the evaluation key (one key,
    one result; another key or the mean, other returns), and the training around them is the same as with
    the mean: the chunk after an evaluation equals the mean-evaluated run's; a bad value is named."""
    with pytest.raises(ValueError, match=r"eval_policy must be one of \('mean', 'sample'\), got 'greedy'"):
        _toy_cfg(algo, eval_policy="greedy")
    runs = {}
    for how in ("mean", "sample"):
        tr = make_train(_toy_cfg(algo, eval_policy=how), num_devices=1)
        progs = compile_programs(tr)
        ts, _ = progs.chunk(progs.init_state(tr.seed_key(0)))
        ts, ev = progs.evaluate(ts, tr.eval_key(1)[0])
        ts, again = progs.evaluate(ts, tr.eval_key(1)[0])
        ts, other = progs.evaluate(ts, tr.eval_key(2)[0])
        ts, m = progs.chunk(ts)
        runs[how] = jax.device_get((ev, again, other, ts, m))
    (ev_m, _, _, ts_m, m_m), (ev_s, again_s, other_s, ts_s, m_s) = runs["mean"], runs["sample"]
    jax.tree.map(np.testing.assert_array_equal, ev_s, again_s)
    assert not np.array_equal(ev_s["return_per_skill"], other_s["return_per_skill"])
    assert not np.array_equal(ev_s["return_per_skill"], ev_m["return_per_skill"])
    jax.tree.map(np.testing.assert_array_equal, m_s, m_m)
    jax.tree.map(np.testing.assert_array_equal, ts_s, ts_m)


# ------------------------------------------------------------------------------------ interfaces
def test_envs_and_hooks_satisfy_the_trainer_protocols():
    """The toy env, its state and FinetuneHooks / NoHooks are the trainer's `jaxmeta.interfaces`
    protocols; hooks lacking members are a TypeError naming them, before anything runs."""
    from envs.toy import make_toy_multitask
    from jaxmeta.finetune import FinetuneHooks
    from jaxmeta.interfaces import NoHooks, RunHooks, TrainEnv, TrainEnvState, check_hooks
    from jaxmeta.train import train

    env = make_toy_multitask(num_skills=2, envs_per_skill=3, max_path_length=5)
    assert isinstance(env, TrainEnv)
    state = env.start(jax.random.PRNGKey(0), env.reset_pool())
    assert isinstance(state, TrainEnvState) and isinstance(env.step(state, jnp.zeros((6, 4))), TrainEnvState)
    assert issubclass(FinetuneHooks, NoHooks) and isinstance(NoHooks(), RunHooks)
    assert isinstance(check_hooks(None), NoHooks)

    class Partial:
        eval_at_start = True

        def compile(self, trainer, programs):
            pass

    with pytest.raises(TypeError, match="run hooks Partial lack eval_skills, init_state, evaluate, finish"):
        check_hooks(Partial())
    with pytest.raises(TypeError, match="lack eval_skills"):
        train(
            TrainConfig(
                benchmark="toy/1",
                total_steps=40,
                warmup_steps=20,
                chunk_steps=20,
                envs_per_skill=2,
                batch_size=8,
                buffer_capacity=64,
            ),
            progress=False,
            hooks=Partial(),
        )


def test_moved_names_keep_their_old_import_path():
    """`train`, `compile_programs`, `Programs`, `plan_devices` and `state_shardings` moved out of
    jaxmeta.train (jaxmeta.driver / .programs / .sharding); the old path gives the same objects."""
    import jaxmeta.driver
    import jaxmeta.programs
    import jaxmeta.sharding
    import jaxmeta.train as t

    assert t.train is jaxmeta.driver.train and t.CPU_GRAPHS_COMPILED == jaxmeta.driver.CPU_GRAPHS_COMPILED
    assert t.compile_programs is jaxmeta.programs.compile_programs and t.Programs is jaxmeta.programs.Programs
    assert t.plan_devices is jaxmeta.sharding.plan_devices and t.state_shardings is jaxmeta.sharding.state_shardings
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        t.nope  # noqa: B018


def test_split_and_renamed_names_keep_working():
    """Issue 18's splits keep the old import paths (config, checkpoint, cli); the renamed `TaskIdEnv` still
    imports, as `SkillIdEnv`, with a DeprecationWarning naming the new name."""
    import jaxmeta.benchmark_names
    import jaxmeta.checkpoint
    import jaxmeta.checkpoint_store
    import jaxmeta.cli
    import jaxmeta.cli_finetune
    import jaxmeta.config
    import jaxmeta.finetune_options
    import jaxmeta.tasks

    assert jaxmeta.config.FinetuneConfig is jaxmeta.finetune_options.FinetuneConfig
    assert jaxmeta.config.check_ported is jaxmeta.benchmark_names.check_ported
    assert jaxmeta.config.benchmark_skills is jaxmeta.benchmark_names.benchmark_skills
    assert jaxmeta.checkpoint.ITEMS is jaxmeta.checkpoint_store.ITEMS
    assert jaxmeta.cli.finetune_config_from_args is jaxmeta.cli_finetune.finetune_config_from_args
    assert jaxmeta.cli.FINETUNE_FLAGS is jaxmeta.cli_finetune.FINETUNE_FLAGS
    with pytest.warns(DeprecationWarning, match="SkillIdEnv"):
        assert jaxmeta.tasks.TaskIdEnv is jaxmeta.tasks.SkillIdEnv
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        jaxmeta.tasks.nope  # noqa: B018
