"""tiered's benchmarks: ``python bench/run.py`` (the harness lives in :mod:`bench.harness`)."""
