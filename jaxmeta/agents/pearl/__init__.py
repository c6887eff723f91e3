"""PEARL (Rakelly et al. 2019, "Efficient Off-Policy Meta-Reinforcement Learning via Probabilistic Context
Variables"): SAC on ``[obs, z]`` with a probabilistic context encoder ``q(z | c)``. Modules: `options`
(`PEARLOptions`, no JAX), `encoder` (the per-transition Gaussian factors, their product, the KL to the
prior), `pearl` (`make_pearl`: the meta-training update over a meta-batch of tasks, posterior inference,
acting), `task_replay` (a replay ring per task), `train` (``--algo pearl``: the trainer's loop). Like the
other `jaxmeta.agents` packages this file imports nothing.
"""
