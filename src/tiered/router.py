"""The router: drives the cascade of :mod:`tiered.cascade.policy` against providers and emits one Decision.

:meth:`Router.create` routes a request and returns the whole answer; :meth:`Router.stream` (see
:mod:`tiered.streaming`) routes it as a stream; :meth:`Router.passthrough` sends a request for a plain model
straight upstream, still recorded. Every request yields exactly one frozen :class:`~tiered.decision.Decision`,
handed to the observers (decision store, metrics, quality loop) when the request ends. Observers must not
block; one that raises is counted and logged, and never breaks a response.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .cascade.betas import betas_of
from .cascade.policy import Calibrator, Call, Reply, Step, cascade, final_call, hedges, judge, read_triage_response
from .cascade.stop_sequences import ending, stop_sequences_of
from .cascade.stream_parse import TriageStreamParser
from .confidence.live import StrategyCache  # confidence strategy hook (#21)
from .confidence.strategy import ConfidenceStrategy  # confidence strategy hook (#21)
from .config import RouteSettings, Settings
from .decision import AttemptRole, Decision
from .errors import ConfigError, OverloadedError, TieredError, UpstreamError
from .health import CircuitBreaker, InflightCaps, rejected_by_upstream
from .hedging import HedgeLeg, estimate_cancelled, race
from .pricing import PriceBook, default_price_book
from .recording import DecisionObserver, Exchange, PendingAttempt, Recorder, cancelled_error, new_decision_id
from .streaming import RoutedStream
from .triage_stream import TriageState, message_of, note_triage_usage, read_triage_events, read_triage_to_end
from .upstreams import Upstreams
from .validate import validate_messages_request

if TYPE_CHECKING:
    from .providers.base import Provider

__all__ = [
    "DecisionObserver",
    "Exchange",
    "Routed",
    "Router",
    "cancelled_error",
    "message_text",
    "new_decision_id",
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


def message_text(body: Mapping[str, Any]) -> str:
    """The text of a Messages response (its text blocks, joined)."""
    content = body.get("content")
    if not isinstance(content, list):
        return ""
    return "".join(
        b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    )


def shipped_message(
    source: Mapping[str, Any],
    model: str,
    answer: str,
    usage: Mapping[str, Any],
    stop_reason: str = "end_turn",
    stop_sequences: Sequence[str] = (),
) -> dict[str, Any]:
    """The Messages response for a shipped triage answer: one text block, the answering model, that call's
    usage. ``source`` is the triage response (for its id). The answer ends at the caller's first stop
    sequence, as the final tier's would (see :mod:`tiered.cascade.stop_sequences`)."""
    end = ending(answer, stop_sequences, stop_reason)
    return {
        "id": source.get("id") or f"msg_{secrets.token_hex(12)}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": end.text}],
        "stop_reason": end.stop_reason,
        "stop_sequence": end.stop_sequence,
        "usage": dict(usage),
    }


class Router:
    """Routes Messages requests down the configured routes. Async; see :class:`tiered.SyncRouter` for a
    blocking wrapper."""

    def __init__(
        self,
        settings: Settings,
        *,
        upstreams: Upstreams | None = None,
        prices: PriceBook | None = None,
        observers: Sequence[DecisionObserver] = (),
    ) -> None:
        self.settings = settings
        self.upstreams = upstreams if upstreams is not None else Upstreams(settings)
        self.prices = prices if prices is not None else default_price_book()
        self._observers: list[DecisionObserver] = list(observers)
        self._calibrators: dict[Path, Calibrator] = {}
        self._strategies = StrategyCache()  # confidence strategy hook (#21)
        self._threshold_overrides: dict[str, float] = {}
        self._passthrough_routes: dict[str, RouteSettings] = {}
        self.observer_failures = 0
        self.replica = f"{socket.gethostname()[:40]}-{os.getpid()}-{secrets.token_hex(3)}"
        """This router's name in decisions: per-key limits count other replicas' traffic from the store."""
        self.breaker = CircuitBreaker(settings.breaker.failures, settings.breaker.open_s)
        self.caps = InflightCaps(
            {name: p.max_inflight for name, p in settings.providers.items() if p.max_inflight is not None}
        )

    # -- configuration ------------------------------------------------------------------------------------

    def add_observer(self, observer: DecisionObserver) -> None:
        self._observers.append(observer)

    def set_threshold(self, route: str, threshold: float | None) -> None:
        """Override a route's threshold at run time (the threshold controller does); ``None`` removes it."""
        self.settings.route(route)
        if threshold is None:
            self._threshold_overrides.pop(route, None)
        else:
            self._threshold_overrides[route] = threshold

    def route_settings(self, name: str) -> RouteSettings:
        route = self.settings.route(name)
        override = self._threshold_overrides.get(name)
        if override is not None:
            route = route.model_copy(update={"threshold": override})
        return route

    def calibrators(self, route: RouteSettings) -> dict[int, Calibrator | ConfidenceStrategy]:
        """The recalibration maps of ``route``'s tiers (loaded once per file)."""
        found: dict[int, Calibrator | ConfidenceStrategy] = {}
        for tier in range(len(route.tiers)):
            strategy = self._strategies.for_tier(route, tier)  # confidence strategy hook (#21)
            calibrate = strategy or self.calibrate_for(route, tier)
            if calibrate is not None:
                found[tier] = calibrate
        return found

    def calibrate_for(self, route: RouteSettings, tier: int) -> Calibrator | None:
        """``tier``'s recalibration map, loaded once per file; ``None`` when it has none."""
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
        return await self._create(request, route, self.route_settings(route), headers, key_id)

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
        request = {k: v for k, v in request.items() if k != "stream"}
        recorder = Recorder(self, request, route, settings, stream=False, key_id=key_id, passthrough=passthrough)
        plan = cascade(request, settings, {} if passthrough else self.calibrators(settings), betas_of(headers))
        try:
            return await self._run(plan, recorder, settings, headers)
        except BaseException:
            if not recorder.done:  # cancelled (client gone): still one decision
                recorder.finish(None, None, None, cancelled_error())
            raise

    async def _run(
        self,
        plan: Generator[Call, Reply, Step],
        recorder: Recorder,
        settings: RouteSettings,
        headers: Mapping[str, str] | None,
    ) -> Routed:
        call = next(plan)
        leg: HedgeLeg | None = None
        while True:
            cancelled = False
            if leg is not None and call.role is AttemptRole.FINAL:
                pending, error = leg.pending, await leg.result()  # the hedge already made this call
                leg = None
            else:
                pending = recorder.add(call)
                error, leg, cancelled = await self._send_hedged(call, settings, headers, pending, recorder)
            if call.role is AttemptRole.TRIAGE and error is None and not cancelled and pending.read is None:
                pending.read = read_triage_response(pending.body, structured_answer=call.structured_answer)
            try:
                reply = Reply(pending.read, error is not None, rejected_by_upstream(error), cancelled=cancelled)
                call = plan.send(reply)
            except StopIteration as stop:
                step: Step = stop.value
                if leg is not None:  # the triage shipped: the hedge lost
                    await leg.cancel()
                    estimate_cancelled(leg.pending, pending)
                    leg = None
                if step.kind in {"ship", "degraded"}:
                    source = pending if step.kind == "ship" else recorder.triage_attempt(step.tier)
                    assert source.read is not None and source.read.answer is not None
                    answer = source.read.answer
                    model = source.body.get("model") or source.call.body.get("model") or source.call.model
                    usage, stops = source.body.get("usage") or {}, stop_sequences_of(recorder.request)
                    message = shipped_message(source.body, str(model), answer, usage, stop_sequences=stops)
                    decision = recorder.finish(step, source, message_text(message), degraded=step.kind == "degraded")
                    return Routed(message, decision)
                if step.kind == "failed" or error is not None:
                    failure = error or UpstreamError("no tier answered")
                    recorder.finish(step, pending, None, failure)
                    raise failure from None
                decision = recorder.finish(step, pending, message_text(pending.body))
                return Routed(pending.body, decision)

    async def _send_hedged(
        self,
        call: Call,
        route: RouteSettings,
        headers: Mapping[str, str] | None,
        pending: PendingAttempt,
        recorder: Recorder,
    ) -> tuple[TieredError | None, HedgeLeg | None, bool]:
        """Make ``call``; a triage the route hedges starts the final call early (see :mod:`tiered.hedging`).
        Returns (error, the final call's leg if it started, whether the triage was cancelled)."""
        if not hedges(call, route) or route.hedge_after_ms is None:
            return await self._send(call, route, headers, pending), None, False

        def start_final() -> tuple[PendingAttempt, Callable[[], Awaitable[TieredError | None]]]:
            final = recorder.add(final_call(dict(recorder.request), route))
            return final, lambda: self._send(final.call, route, headers, final)

        error, leg, cancelled = await race(
            lambda: self._send(call, route, headers, pending), route.hedge_after_ms / 1000, start_final
        )
        if cancelled and leg is not None:
            estimate_cancelled(pending, leg.pending)
        return error, leg, cancelled

    async def _send(
        self, call: Call, route: RouteSettings, headers: Mapping[str, str] | None, pending: PendingAttempt
    ) -> TieredError | None:
        """Make one JSON call, filling ``pending``; return the error (upstream, circuit, overload) or None."""
        tier = route.tiers[call.tier]
        triage = call.role is AttemptRole.TRIAGE
        if triage and not self.breaker.allow(tier.model):
            pending.skipped = True
            pending.error = f"triage skipped: the circuit for {tier.model} is open after repeated upstream errors"
            return UpstreamError(pending.error, model=tier.model)
        try:
            self.caps.acquire(tier.provider)
        except OverloadedError as exc:
            pending.error, pending.status = exc.message, exc.status
            return exc
        provider = self.upstreams.for_tier(tier, triage=triage)
        started = time.perf_counter()
        error: UpstreamError | None = None
        try:
            if triage and route.stream_triage:
                await self._triage_streamed(call, route, provider, headers, pending, started)
            else:
                response = await provider.send(call.body, headers=headers)
                pending.body = response.body
                pending.request_id = response.request_id
                pending.status = response.status
        except UpstreamError as exc:
            error = exc
            pending.error, pending.status, pending.request_id = str(exc), exc.status, exc.request_id
        except BaseException:
            pending.cancelled = True
            pending.latency_ms = (time.perf_counter() - started) * 1000
            if triage:
                self.breaker.release_probe(tier.model)
            raise
        finally:
            self.caps.release(tier.provider)
        pending.latency_ms = (time.perf_counter() - started) * 1000
        if pending.read is None:
            pending.note_usage(pending.body.get("usage"))
            stop_reason = pending.body.get("stop_reason")
            pending.stop_reason = stop_reason if isinstance(stop_reason, str) else None
        if triage:
            self.breaker.record_outcome(tier.model, error)
        return error

    async def _triage_streamed(
        self,
        call: Call,
        route: RouteSettings,
        provider: Provider,
        headers: Mapping[str, str] | None,
        pending: PendingAttempt,
        started: float,
    ) -> None:
        """A JSON request's triage, read as a stream: a low confidence ends the call after a few tokens (the
        rest is neither waited for nor paid for); a confident answer is read to its end and judged whole."""
        state = TriageState(TriageStreamParser(structured_answer=call.structured_answer))
        calibrate = call.scorer or self.calibrate_for(route, call.tier)  # confidence strategy hook (#21)
        threshold = call.threshold if call.threshold is not None else 1.0
        try:
            async with provider.stream(call.body, headers=headers) as stream:
                pending.request_id, pending.status = stream.request_id, 200
                events = aiter(stream)
                read = await read_triage_events(events, call, pending, state, started, calibrate, stream)
                # a route that may degrade to the cheap answer needs that answer whole, shipped or not
                if not state.finished and (route.degrade_to_cheap or judge(read, threshold, calibrate).ship):
                    read = await read_triage_to_end(events, call, pending, state, stream)
        finally:
            note_triage_usage(pending, state)
            pending.stream_aborted = not state.finished
            pending.body = message_of(state)
        pending.read = read

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
        settings = self.route_settings(route)
        return RoutedStream(self, request, route, settings, headers=headers, key_id=key_id)

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
        return RoutedStream(self, request, "", route, headers=headers, key_id=key_id, passthrough=True)

    async def aclose(self) -> None:
        await self.upstreams.aclose()


def _load_calibrator(path: Path) -> Calibrator:
    try:
        from .offline.calibration_map import load_calibration
    except ImportError as exc:  # pragma: no cover - the module ships with the package
        raise ConfigError(f"cannot load calibration {path}: {exc}") from exc
    calibration: Callable[[float], float] = load_calibration(path)
    return calibration
