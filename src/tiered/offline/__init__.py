"""Offline evaluation: backtest recorded outcomes, recommend a threshold with a guarantee, calibrate.

Only the calibration map is imported here, because routes load it and it is pure Python. Everything else
needs the ``tiered[eval]`` extra (numpy, scipy, matplotlib) and is imported from its module:
:mod:`tiered.offline.backtest` (``run_backtest``), :mod:`tiered.offline.outcomes` (the input layer),
:mod:`tiered.offline.readers`, :mod:`tiered.offline.recommend`, :mod:`tiered.offline.calibration`,
:mod:`tiered.offline.plots`, :mod:`tiered.offline.report`, :mod:`tiered.offline.gastro`,
:mod:`tiered.offline.from_log` (graded decisions as outcomes), and the CLI command in
:mod:`tiered.offline.commands`.

``tiered eval`` (outcomes from a labelled dataset, live or through the Message Batches API) needs no extra:
:mod:`.eval_dataset` (the dataset), :mod:`.eval_graders`, :mod:`.eval_plan` (the calls per item and the
row built from their replies), :mod:`.eval_prices`, :mod:`.eval_cache` (the resumable cache),
:mod:`.batches`, :mod:`.eval_run`, :mod:`.eval_output` and the command in :mod:`.eval_command`.
"""

from tiered.offline.calibration_map import Calibration, load_calibration, save_calibration

__all__ = ["Calibration", "load_calibration", "save_calibration"]
