"""The configured tiers' models, checked at start-up, in ``/readyz`` and on every 404 for a model.

Checks (see :mod:`tiered.lifecycle`): the capability table (retired: an error; deprecated, unknown: warnings)
and, for a provider with a key configured, the upstream's ``GET /v1/models`` (a configured model it does not
list: an error). A 404 ``not_found_error`` on a routed call is the same kind of problem, found the hard way:
it is a configuration alert, not a transient error (it never counts toward the circuit breaker, see
:func:`tiered.health.failure_kind`).

Each new problem is logged (ERROR or WARNING) and raised as an alert through the quality loop's
:class:`~tiered.quality.alerts.AlertManager` (kind ``model_<problem>:<model>``, severity ``critical`` for an
error); a problem that goes away resolves its alert. ``/readyz`` lists the problems; it answers 503 only when
a route's *final* tier has an error (its requests cannot be answered; a broken cheap tier only costs money).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Final

import anyio.to_thread

from ..errors import UpstreamError
from ..lifecycle import ModelProblem, check_table, check_upstream, configured_models

if TYPE_CHECKING:
    from ..config import Settings
    from ..decision import Decision
    from ..quality.alerts import AlertManager
    from ..router import Exchange, Router

__all__ = ["MAX_LIMIT", "ModelChecks", "read_whole_list"]

log = logging.getLogger("tiered.models")

MAX_LIMIT: Final = 1000  # the Models API's largest page ("Ranges from 1 to 1000", see tiered.server.models_api)
_UPSTREAM_PAGES: Final = 20  # of 1,000 models each when tiered reads the upstream's whole list
LIST_REFRESH_S: Final = 600.0  # how long the upstream's model list is trusted (``/readyz`` is polled often)
STARTUP_WAIT_S: Final = 5.0  # how long start-up waits for the upstream's list before going on without it


def _today() -> date:
    return datetime.now(UTC).date()


class ModelChecks:
    def __init__(
        self,
        settings: Settings,
        router: Router,
        *,
        today: Callable[[], date] = _today,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._router = router
        self._today = today
        self._clock = clock
        self._models = configured_models(settings)
        self._finals = {m.model for m in self._models if m.final}
        self._checked: list[ModelProblem] = []
        self._not_found: dict[str, ModelProblem] = {}
        self._listed_at: float | None = None
        self._listed: list[ModelProblem] = []
        self._listing: asyncio.Future[None] | None = None  # the upstream's list being read
        self._raised: set[str] = set()
        self._lock = threading.Lock()
        self.alerts: AlertManager | None = None
        """The quality loop's alert manager, once it runs (problems found before are raised then)."""

    def problems(self) -> list[ModelProblem]:
        with self._lock:
            return [*self._checked, *self._listed, *self._not_found.values()]

    def ready(self) -> bool:
        """False when a route's final tier has an error-level problem (its requests cannot be answered)."""
        return not any(p.severity == "error" and p.final for p in self.problems())

    async def check(self, *, wait_s: float = 0.0) -> list[ModelProblem]:
        """Check against the capability table (every time: it is cheap), log and raise what is new. The
        upstream's list (when a key is configured) is read again in the background once the last one is older
        than ``LIST_REFRESH_S``: a readiness probe never waits on the upstream. ``wait_s``: wait that long for
        such a read (start-up waits a little, so its log tells the whole story when the upstream is quick)."""
        checked = check_table(self._models, self._today())
        with self._lock:
            self._checked = checked
        now = self._clock()
        if self._listing is None and (self._listed_at is None or now - self._listed_at >= LIST_REFRESH_S):
            self._listed_at = now
            self._listing = asyncio.ensure_future(self._refresh_listed())
        if self._listing is not None and wait_s > 0:
            with anyio.move_on_after(wait_s):
                await asyncio.shield(self._listing)
        problems = self.problems()
        await anyio.to_thread.run_sync(self._report, problems)  # an alert may be stored: off the event loop
        return problems

    async def _refresh_listed(self) -> None:
        try:
            listed = await self._check_upstream()
            with self._lock:
                self._listed = listed
            await anyio.to_thread.run_sync(self._report, self.problems())
        except Exception as exc:  # a background check must never take anything down
            log.warning("the configured models could not be checked against the upstream: %r", exc)
        finally:
            self._listing = None

    async def _check_upstream(self) -> list[ModelProblem]:
        problems: list[ModelProblem] = []
        for provider_name in sorted({m.provider for m in self._models}):
            if self._settings.provider(provider_name).api_key is None:
                continue  # pass-through mode: only a client's key could list models
            try:
                listed = await self._list(provider_name)
            except UpstreamError as exc:
                log.warning(
                    "could not list the models of provider %r to check the configuration: %s", provider_name, exc
                )
                continue
            problems.extend(check_upstream([m for m in self._models if m.provider == provider_name], listed))
        return problems

    async def _list(self, provider_name: str) -> list[str]:
        """Every model id the provider lists, with the proxy's own key."""
        return [m["id"] for m in await read_whole_list(self._router.upstreams.provider(provider_name))]

    def observe(self, decision: Decision, exchange: Exchange) -> None:
        """A decision observer: a routed call answered 404 ``not_found_error`` names a model the upstream does
        not serve. A pass-through request's model is the client's own choice, not configuration."""
        if decision.passthrough:
            return
        for attempt in decision.attempts:
            if attempt.status != 404 or "not_found_error" not in (attempt.error or ""):
                continue
            if attempt.model in self._not_found:
                continue
            problem = ModelProblem(
                attempt.model,
                "not_found",
                "error",
                f"{attempt.model} (route {decision.route!r}, tier {attempt.tier}) answered 404 not_found_error: "
                "the upstream does not serve this model (retired or misspelt?); configure another model",
                attempt.model in self._finals,
            )
            with self._lock:
                self._not_found[attempt.model] = problem
            threading.Thread(target=self._report, args=([problem], False), name="tiered-model-alert").start()

    def _report(self, problems: list[ModelProblem], resolve: bool = True) -> None:
        """Log and raise each problem not raised yet; with ``resolve``, resolve those no longer present
        (a 404 seen on a call stays until restart: nothing shows it went away)."""
        keyed = {f"model_{p.kind}:{p.model}": p for p in problems}
        with self._lock:
            new = [(k, p) for k, p in keyed.items() if k not in self._raised]
            gone = (
                [k for k in self._raised if k not in keyed and not k.startswith("model_not_found:")] if resolve else []
            )
            self._raised.update(k for k, _ in new)
            self._raised.difference_update(gone)
        alerts = self.alerts
        for key, problem in new:
            log.log(logging.ERROR if problem.severity == "error" else logging.WARNING, "%s", problem.message)
            if alerts is not None:
                details = problem.to_dict()
                if problem.severity == "error":
                    alerts.update(key, None, True, problem.message, details, "critical")
                else:
                    alerts.update(key, None, True, problem.message, details, "warning")
        for key in gone:
            if alerts is not None:
                alerts.update(key, None, False, "", {}, "warning")


async def read_whole_list(provider: Any, headers: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Every model ``provider`` lists, read page by page (``after_id`` = the last page's ``last_id``, as the
    SDK pages); raises :class:`~tiered.errors.UpstreamError`."""
    out: list[dict[str, Any]] = []
    params = {"limit": str(MAX_LIMIT)}
    for _ in range(_UPSTREAM_PAGES):
        body = (await provider.list_models(headers=headers, params=params)).body
        listed = body.get("data")
        if isinstance(listed, list):
            out.extend(m for m in listed if isinstance(m, dict) and isinstance(m.get("id"), str))
        last = body.get("last_id")
        if body.get("has_more") is not True or not isinstance(last, str):
            break
        params = {"limit": str(MAX_LIMIT), "after_id": last}
    return out
