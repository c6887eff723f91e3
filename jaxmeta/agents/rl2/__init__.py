"""RL2 (Duan et al. 2016): a recurrent policy whose hidden state carries over the episodes of one trial,
meta-trained with recurrent PPO. Modules: `options` (`RL2Options`, no JAX), `networks` (the GRU policy / value net), `rl2` (`make_rl2`: act /
update over whole sequences), `train` (algo ``rl2`` in the trainer: trials of one task, `jaxmeta train --algo
rl2`). Like the other `jaxmeta.agents` packages this file imports nothing.
"""
