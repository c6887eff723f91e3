"""RL2 (Duan et al. 2016): a recurrent policy whose hidden state carries over the episodes of one trial,
meta-trained with recurrent PPO. Modules: `networks` (the GRU policy / value net), `rl2` (`make_rl2`:
act / update over whole sequences). Like the other `jaxmeta.agents` packages this file imports nothing.
(Not yet a trainer algorithm: ``--algo rl2`` needs trials of one task in the env loop, issue 19.)
"""
