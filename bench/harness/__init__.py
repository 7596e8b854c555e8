"""The benchmark harness behind ``bench/run.py``.

Modules: :mod:`.cli` (the command), :mod:`.plan` (how much to measure), :mod:`.procs` (child processes and
``/proc``), :mod:`.stack` (the fake upstream and the proxy), :mod:`.peers` (LiteLLM and Portkey),
:mod:`.driver` and :mod:`.loadgen` (the load generator process), :mod:`.jobs` (what passes between them),
:mod:`.overhead`, :mod:`.latency` and :mod:`.capacity` (the phases), :mod:`.stats`, :mod:`.targets` and
:mod:`.report` (numbers, verdicts and ``BENCHMARKS.md``), :mod:`.others` (the other benchmarks and the machine),
:mod:`.profile` (py-spy profiles).
"""
