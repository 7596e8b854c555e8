"""The dashboard: a live page on ``tiered serve`` (``GET /dashboard``) and the figures behind it.

Modules, one concern each (the HTTP endpoints live in :mod:`tiered.server.dashboard_api`; ``docs/dashboard.md``
documents them):

* :mod:`.window` time windows and their chart buckets
* :mod:`.queries` aggregates over a window: calls, escalations, cost and savings, confidences, a time series
* :mod:`.listing` recent decisions, one decision in full, threshold history, alerts
* :mod:`.assets` the page's files (``static/``: HTML, CSS and JavaScript, no external resources)
* :mod:`.traffic` the demo's traffic generator (``tiered demo``)

Importing this package is cheap: it imports nothing.
"""

__all__: list[str] = []
