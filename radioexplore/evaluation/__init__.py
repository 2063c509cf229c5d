"""Evaluation: how much an embedding knows, by linear probes (seeds 000, 001).

- :mod:`~radioexplore.evaluation.probes`: the linear probe itself (PCA + one linear layer, k-fold or train -> test).
- :mod:`~radioexplore.evaluation.checks`: ``evaluate``'s configuration and its report of checkpoint checks.
- :mod:`~radioexplore.evaluation.survey`: ``evaluate --run``: a checkpoint against its random network on a simulated survey.
- :mod:`~radioexplore.evaluation.attention_check`: do the top attention patches fall on bright extended sources?
- :mod:`~radioexplore.evaluation.labels`: FR I / FR II linear-probe error tables of labelled stamps.
- :mod:`~radioexplore.evaluation.frdeep`: ``evaluate --frdeep``: those tables on the FR-DEEP FIRST and NVSS arrays.
- :mod:`~radioexplore.evaluation.table`: every embedding set of a run beside random init, pixel PCA
  and the majority class; accuracy, balanced accuracy, Macro-F1, Weighted-F1, mean +- std.
- :mod:`~radioexplore.evaluation.bias`: can field, noise rms or DQF be read off an embedding?
- :mod:`~radioexplore.evaluation.report`: run all of it, print, and write ``RUN/evaluation/*.parquet``.
"""
