"""A replica's threshold controller and sync, for the two-process test (run as a script, not collected).

_quality_child.py URL START_AT   from START_AT (epoch seconds) on, evaluate the controller and apply the
                                newest threshold every 20 ms; print "threshold <value>" on each change and
                                "recorded <n>" at the end; exit once the threshold reached the ceiling and
                                held there for 20 more rounds (or after 45 s).
"""

from __future__ import annotations

import sys
import time

from tiered.config import load_settings
from tiered.quality.controller import ThresholdController
from tiered.quality.thresholds import ThresholdSync
from tiered.router import Router
from tiered.store.engine import make_engine


def main(url: str, start_at: float) -> None:
    settings = load_settings(
        environ={},
        overrides={
            "database_url": url,
            "quality.min_grades": 10,
            "quality.controller_rule": "upper-bound",  # raises on 2 wrong of 12: the shared state is tested here
            "routes.default.threshold_ceiling": 0.9,
        },
    )
    engine = make_engine(url)
    router = Router(settings)
    controller = ThresholdController(settings, engine)
    sync = ThresholdSync(settings, router, engine)
    time.sleep(max(0.0, start_at - time.time()))
    recorded = held = 0
    seen = router.route_settings("default").threshold
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline and held < 20:
        if controller.evaluate("default").change is not None:
            recorded += 1
        sync.poll()
        current = router.route_settings("default").threshold
        if current != seen:
            seen = current
            print(f"threshold {current}", flush=True)
        held = held + 1 if current >= 0.9 else 0
        time.sleep(0.02)
    print(f"recorded {recorded}", flush=True)
    engine.dispose()


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]))
