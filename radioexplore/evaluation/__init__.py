"""The evaluation table of issue 21 (seed 001's protocol) and the instrumental-bias audit (seed 000).

- :mod:`~radioexplore.evaluation.table`: every embedding set of a run beside random init, pixel PCA
  and the majority class; accuracy, balanced accuracy, Macro-F1, Weighted-F1, mean +- std.
- :mod:`~radioexplore.evaluation.bias`: can field, noise rms or DQF be read off an embedding?
- :mod:`~radioexplore.evaluation.methods`: pre-train each SSL method briefly on the run to fill the table.
- :mod:`~radioexplore.evaluation.report`: run all of it, print, and write ``RUN/evaluation/*.parquet``.

The checkpoint checks of issue 5 and the FR-DEEP tables stay in :mod:`radioexplore.evaluate`.
"""
