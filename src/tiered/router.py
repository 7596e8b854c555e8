"""The router: a thin facade over the runner (configuration, route lookup, threshold overrides, observers).

:meth:`Router.stream` routes a request as a stream (the runner, :class:`tiered.runner.stream.RoutedStream`,
drives the cascade of :mod:`tiered.cascade.policy` against providers); :meth:`Router.create` is the same run
collected into the whole answer; :meth:`Router.passthrough` sends a request for a plain model
straight upstream, still recorded. Every request yields exactly one frozen :class:`~tiered.decision.Decision`,
handed to the observers (decision store, metrics, quality loop) when the request ends. Observers must not
block; one that raises is counted and logged, and never breaks a response.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cascade.policy import Calibrator
from .cascade.slices import slice_key
from .confidence.live import StrategyCache
from .confidence.strategy import ConfidenceStrategy
from .config import RouteSettings, Settings
from .decision import Decision
from .economics.advisor import Economics
from .errors import ConfigError
from .health import CircuitBreaker, InflightCaps
from .pricing import PriceBook, default_price_book
from .runner.attempts import DecisionObserver, Exchange, cancelled_error, new_decision_id
from .runner.deps import Deps, ExplorerHook, ProviderSource
from .runner.reply import message_text, shipped_message
from .runner.stream import RoutedStream
from .upstreams import Upstreams
from .validate import validate_messages_request

__all__ = [
    "DecisionObserver",
    "Exchange",
    "Routed",
    "Router",
    "cancelled_error",
    "message_text",
    "new_decision_id",
    "overridden",
    "shipped_message",
]

log = logging.getLogger("tiered.router")


@dataclass(frozen=True, slots=True)
class Routed:
    """A routed (non-streamed) answer: the Messages response for the caller and its decision."""

    body: dict[str, Any]
    decision: Decision

    @property
    def text(self) -> str:
        return message_text(self.body)


def overridden(route: RouteSettings, threshold: float) -> RouteSettings:
    """``route`` under a threshold override (see :meth:`Router.set_threshold`): the route's threshold becomes
    ``threshold``, and each tier's own threshold becomes at least ``threshold``."""
    tiers = tuple(
        tier
        if tier.threshold is None or tier.threshold >= threshold
        else tier.model_copy(update={"threshold": threshold})
        for tier in route.tiers
    )
    return route.model_copy(update={"threshold": threshold, "tiers": tiers})


class Router:
    """Routes Messages requests down the configured routes. Async; see :class:`tiered.SyncRouter` for a
    blocking wrapper."""

    def __init__(
        self,
        settings: Settings,
        *,
        upstreams: ProviderSource | None = None,
        prices: PriceBook | None = None,
        observers: Sequence[DecisionObserver] = (),
    ) -> None:
        """``upstreams`` answers the tiers: :class:`~tiered.upstreams.Upstreams` (made from ``settings`` when
        not given) or any :class:`~tiered.runner.deps.ProviderSource`, such as the function-backed providers of
        :mod:`tiered.runner.function_provider` (a router without sockets). Calls that name a provider rather
        than a tier (model lists, token counts, shadow and judge calls) go through :attr:`upstreams`, which is
        the given source when it is an ``Upstreams``, else one made from ``settings``. A source that is not an
        ``Upstreams`` stays the caller's to close."""
        self.settings = settings
        self.providers: ProviderSource = upstreams if upstreams is not None else Upstreams(settings)
        self.upstreams = self.providers if isinstance(self.providers, Upstreams) else Upstreams(settings)
        self.prices = prices if prices is not None else default_price_book()
        self._observers: list[DecisionObserver] = list(observers)
        self._calibrators: dict[Path, Calibrator] = {}
        self._strategies = StrategyCache()
        self._threshold_overrides: dict[str, RouteSettings] = {}
        self._slice_overrides: dict[str, dict[str, RouteSettings]] = {}  # route -> slice -> its settings
        self._passthrough_routes: dict[str, RouteSettings] = {}
        self.observer_failures = 0
        self.replica = f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"
        """This router's name in decisions: per-key limits count other replicas' traffic from the store."""
        self.breaker = CircuitBreaker(settings.breaker.failures, settings.breaker.open_s)
        self.caps = InflightCaps(
            {name: p.max_inflight for name, p in settings.providers.items() if p.max_inflight is not None}
        )
        self.deps = Deps(
            providers=self.providers,
            prices=self.prices,
            breaker=self.breaker,
            caps=self.caps,
            sink=self.emit,
            calibrate_for=self.calibrate_for,
            replica=self.replica,
            economics=Economics(settings, self.prices),
        )
        """What the runner is given (it never reaches back into the router)."""

    # -- configuration ------------------------------------------------------------------------------------

    def add_observer(self, observer: DecisionObserver) -> None:
        self._observers.append(observer)

    def set_explorer(self, explorer: ExplorerHook | None) -> None:
        """Exploration in live mode (:mod:`tiered.quality.explore`): the runner offers it escalated triages."""
        self.deps = dataclasses.replace(self.deps, explorer=explorer)

    def set_threshold(self, route: str, threshold: float | None) -> None:
        """Override a route's threshold at run time (the threshold controller does); ``None`` removes it.

        The rule for tiers with a ``threshold`` of their own: the override replaces the route's threshold, and
        is a floor for a tier's own. While it is in force tier ``t`` is judged against ``override`` if it sets
        no threshold, else ``max(tier.threshold, override)``: the controller can make any tier stricter, never
        silently laxer than its configuration. See :func:`overridden`."""
        settings = self.settings.route(route)
        if threshold is None:
            self._threshold_overrides.pop(route, None)
        else:
            self._threshold_overrides[route] = overridden(settings, threshold)

    def set_slice_threshold(self, route: str, slice_: str, threshold: float | None) -> None:
        """Give one slice of ``route`` (:func:`~tiered.cascade.slices.slice_key`) a threshold of its own (the
        controller's per-slice step); ``None`` removes it. Its requests are judged against it by the same rule
        as a route override (:func:`overridden`: it replaces the route's threshold and is a floor for a tier's
        own), whatever the route's override."""
        slices = dict(self._slice_overrides.get(route, {}))
        if threshold is None:
            slices.pop(slice_, None)
        else:
            slices[slice_] = overridden(self.settings.route(route), threshold)
        self._slice_overrides[route] = slices  # swapped whole: safe to call from another thread

    def slice_thresholds(self, route: str) -> dict[str, float]:
        return {name: spec.threshold for name, spec in self._slice_overrides.get(route, {}).items()}

    def settings_for(
        self, name: str, request: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> RouteSettings:
        """The settings ``request`` is routed with: its slice's threshold when one is set, else the route's."""
        settings = self.route_settings(name)
        slices = self._slice_overrides.get(name)
        if slices:
            key = slice_key(settings, request, headers)
            if key is not None:
                return slices.get(key, settings)
        return settings

    def route_settings(self, name: str) -> RouteSettings:
        override = self._threshold_overrides.get(name)
        return override if override is not None else self.settings.route(name)

    def calibrate_for(self, route: RouteSettings, tier: int) -> Calibrator | ConfidenceStrategy | None:
        """How ``tier``'s confidence is scored: its confidence strategy (``learned``: the model file loaded once),
        else its recalibration map (loaded once per file); ``None`` for the bare stated confidence."""
        strategy = self._strategies.for_tier(route, tier)
        if strategy is not None:
            return strategy
        path = route.calibration_for(tier)
        if path is None:
            return None
        cached = self._calibrators.get(path)
        if cached is None:
            cached = self._calibrators[path] = _load_calibrator(path)
        return cached

    # -- observers ----------------------------------------------------------------------------------------

    def emit(self, decision: Decision, exchange: Exchange) -> None:
        for observer in self._observers:
            try:
                observer(decision, exchange)
            except Exception:
                self.observer_failures += 1
                log.exception("decision observer %r failed for %s", observer, decision.id)

    # -- routing ------------------------------------------------------------------------------------------

    async def create(
        self,
        request: dict[str, Any],
        *,
        route: str = "default",
        headers: Mapping[str, str] | None = None,
        key_id: str | None = None,
    ) -> Routed:
        """Route ``request`` (a Messages request; its ``model`` and ``stream`` are ignored) and return the
        answer. Raises the final tier's :class:`UpstreamError` when no tier could answer."""
        validate_messages_request(request)
        return await self._create(request, route, self.settings_for(route, request, headers), headers, key_id)

    async def _create(
        self,
        request: dict[str, Any],
        route: str,
        settings: RouteSettings,
        headers: Mapping[str, str] | None,
        key_id: str | None,
        *,
        passthrough: bool = False,
    ) -> Routed:
        """The same run as a stream's (:class:`~tiered.runner.stream.RoutedStream`), collected."""
        run = RoutedStream(
            self.deps, request, route, settings, headers=headers, key_id=key_id, passthrough=passthrough, collect=True
        )
        await run.start()  # raises the final tier's error, recorded, when no tier answered
        body = run.collected()
        assert run.decision is not None
        return Routed(body, run.decision)

    def stream(
        self,
        request: dict[str, Any],
        *,
        route: str = "default",
        headers: Mapping[str, str] | None = None,
        key_id: str | None = None,
    ) -> RoutedStream:
        """Route ``request`` as a stream; see :class:`tiered.streaming.RoutedStream`."""
        validate_messages_request(request)
        settings = self.settings_for(route, request, headers)
        return RoutedStream(self.deps, request, route, settings, headers=headers, key_id=key_id)

    def passthrough_route(self, model: str) -> RouteSettings:
        """A one-tier route for a plain model name: sent as it is (no triage, no rewrites), still recorded."""
        route = self._passthrough_routes.get(model)
        if route is not None:
            return route
        from .config import TierSettings

        name, sep, _ = model.partition(":")
        if sep and name not in self.settings.providers:
            from .errors import InvalidRequestError

            known = ", ".join(sorted(self.settings.providers))
            raise InvalidRequestError(f"model: {model!r} names provider {name!r}, which is not configured ({known})")
        route = RouteSettings(tiers=(TierSettings(model=model, drop_params=()),))
        if len(self._passthrough_routes) >= 256:  # model names come from clients: keep the cache bounded
            self._passthrough_routes.clear()
        self._passthrough_routes[model] = route
        return route

    async def passthrough(
        self, request: dict[str, Any], *, headers: Mapping[str, str] | None = None, key_id: str | None = None
    ) -> Routed:
        """Send ``request`` to the model it names, unrouted, and record it."""
        validate_messages_request(request, need_model=True)
        return await self._create(
            request, "", self.passthrough_route(request["model"]), headers, key_id, passthrough=True
        )

    def passthrough_stream(
        self, request: dict[str, Any], *, headers: Mapping[str, str] | None = None, key_id: str | None = None
    ) -> RoutedStream:
        validate_messages_request(request, need_model=True)
        route = self.passthrough_route(request["model"])
        return RoutedStream(self.deps, request, "", route, headers=headers, key_id=key_id, passthrough=True)

    async def aclose(self) -> None:
        if self.deps.economics is not None:
            await self.deps.economics.aclose()
        await self.upstreams.aclose()


def _load_calibrator(path: Path) -> Calibrator:
    try:
        from .offline.calibration_map import load_calibration
    except ImportError as exc:  # pragma: no cover - the module ships with the package
        raise ConfigError(f"cannot load calibration {path}: {exc}") from exc
    calibration: Callable[[float], float] = load_calibration(path)
    return calibration
