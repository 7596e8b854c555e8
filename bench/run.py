"""Run tiered's benchmark suite: ``.venv/bin/python bench/run.py [--quick] [--peers litellm,portkey]``.

See ``bench/harness/cli.py`` (or ``--help``) for the options and ``BENCHMARKS.md`` for the latest results.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # run as a script: make the repository root importable, so that `bench.harness` resolves
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench.harness.cli import main

    raise SystemExit(main())
