"""The services behind the proxy, opened on start and closed on shutdown, in one place."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

import anyio
import anyio.to_thread

from ..config import Settings, tiered_home
from ..errors import ConfigError
from ..router import Exchange, Router
from ..upstreams import Upstreams
from .auth import Authenticator, KeyInfo, KeyLimits
from .common import RecentDecisions, Services
from .limits import Admission, store_counter

if TYPE_CHECKING:
    import httpx2

    from ..decision import Decision
    from ..quality.loop import QualityLoop
    from ..store.privacy import Content
    from .model_checks import ModelChecks

__all__ = ["auth_mode", "open_services"]

log = logging.getLogger("tiered.server")


def auth_mode(settings: Settings) -> Literal["passthrough", "keys"]:
    mode = settings.server.auth
    if mode == "auto":
        return "keys" if settings.provider("anthropic").api_key is not None else "passthrough"
    return mode


@contextlib.asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    transport: httpx2.AsyncBaseTransport | None = None,
    use_store: bool = True,
    on_quality: Callable[[QualityLoop], None] | None = None,
) -> AsyncIterator[Services]:
    """``on_quality`` receives the quality loop (the app keeps it for ``/metrics`` and the grade endpoint)."""
    recent = RecentDecisions(settings.server.recent_decisions)
    router = Router(settings, upstreams=Upstreams(settings, transport=transport), observers=[recent])
    mode = auth_mode(settings)
    admin_key = settings.server.admin_key.get_secret_value() if settings.server.admin_key else None
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(router.aclose)
        store: Any = None
        if use_store:
            store = await anyio.to_thread.run_sync(_open_store, settings)
            stack.callback(store.close)
            router.add_observer(store.observe)
        elif mode == "keys" and admin_key is None:
            raise ConfigError("keys mode without a decision store needs server.admin_key")
        verifier = store.verify_key if store is not None and mode == "keys" else None
        if mode == "keys" and verifier is None:

            def verifier(secret: str) -> KeyInfo | None:
                return None

        auth = Authenticator(mode, verifier=verifier, admin_key=admin_key)
        admission = Admission(
            settings.server.max_inflight,
            settings.server.max_inflight_per_key,
            counter=store_counter(store.engine, router.replica) if store is not None else None,
        )
        router.add_observer(lambda decision, _exchange: admission.spent(decision.key_id, decision.cost_usd))
        svc = Services(settings=settings, router=router, auth=auth, recent=recent, admission=admission)
        if store is not None:
            svc.lookup = store.lookup
            svc.engine = store.engine
            svc.checks["store"] = store.healthy
        quality = await _start_quality(stack, settings, router, store, on_quality)
        svc.models = await _check_models(settings, router, quality)
        log.info("tiered proxy ready (auth: %s)", mode)
        yield svc


class _Store:
    """The decision store as the server uses it: a writer fed by the router, key checks, lookups."""

    def __init__(self, settings: Settings) -> None:
        from ..store import (
            DecisionWriter,
            KeyStore,
            WriterConfig,
            default_database_url,
            default_spool_dir,
            load_pepper,
            make_engine,
            upgrade,
        )

        url = default_database_url(settings)
        self.engine = make_engine(url)
        upgrade(self.engine)
        self.content_for: Callable[[Decision, Exchange], Content | None] | None = None
        self.on_persisted: Callable[[Sequence[str], str], None] | None = None
        self.after_writer_close: Callable[[], None] | None = None
        config = WriterConfig(
            spool_dir=default_spool_dir(url, tiered_home(settings.home)),
            content_retention=timedelta(days=settings.content_retention_days),
            on_persisted=self._persisted,
            write_ahead_fsync=settings.decision_log_fsync,
        )
        self.writer = DecisionWriter(self.engine, config).start()
        pepper = settings.server.key_pepper.get_secret_value() if settings.server.key_pepper else None
        self.keys = KeyStore(self.engine, load_pepper(tiered_home(settings.home), pepper))

    def observe(self, decision: Decision, exchange: Exchange) -> None:
        # the audit sampler decides first: a picked request's text must go with its decision
        content = self.content_for(decision, exchange) if self.content_for is not None else None
        self.writer.submit(decision, content)

    def _persisted(self, ids: Sequence[str], where: Literal["db", "spool"]) -> None:
        hook = self.on_persisted
        if hook is not None:
            hook(ids, where)

    def verify_key(self, secret: str) -> KeyInfo | None:
        record = self.keys.verify(secret)
        if record is None or not record.active:
            return None
        period: Literal["day", "month"] | None = None
        if record.budget_period == "month":
            period = "month"
        elif record.budget_period is not None:
            period = "day"
        limits = KeyLimits(record.rate_limit_rpm, record.budget_usd, period)
        return KeyInfo(record.id, record.name, record.is_admin, limits)

    async def lookup(self, decision_id: str) -> dict[str, Any] | None:
        from ..store.lookup import load_decision

        return await anyio.to_thread.run_sync(load_decision, self.engine, decision_id)

    def healthy(self) -> bool:
        stats = self.writer.stats()
        return stats.dropped == 0

    def close(self) -> None:
        self.writer.close()
        if self.after_writer_close is not None:
            self.after_writer_close()
        self.engine.dispose()


def _open_store(settings: Settings) -> _Store:
    return _Store(settings)


async def _start_quality(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    router: Router,
    store: _Store | None,
    on_quality: Callable[[QualityLoop], None] | None,
) -> QualityLoop:
    """The quality loop (metrics, audit sampling, judge, threshold controller, alerts) for this proxy's
    lifetime; see :mod:`tiered.quality.loop`. Torn down before the store, whose writer then flushes."""
    from ..quality.loop import QualityLoop

    quality = QualityLoop(
        settings,
        router,
        engine=store.engine if store is not None else None,
        writer_stats=store.writer.stats if store is not None else None,
    )
    if store is not None:
        store.content_for = quality.content_for
        store.on_persisted = quality.on_persisted
        store.after_writer_close = quality.flush_samples
    router.add_observer(quality.observe)
    await anyio.to_thread.run_sync(quality.prime)
    quality.start()
    stack.callback(quality.close)
    group = await stack.enter_async_context(anyio.create_task_group())
    group.start_soon(quality.run_judge)
    stack.callback(group.cancel_scope.cancel)
    if on_quality is not None:
        on_quality(quality)
    return quality


async def _check_models(settings: Settings, router: Router, quality: QualityLoop) -> ModelChecks:
    """The configured models, checked once at start-up (logged, and alerted through the quality loop), then
    by ``/readyz`` and on every 404 for a model (see :mod:`tiered.server.model_checks`)."""
    from .model_checks import STARTUP_WAIT_S, ModelChecks

    checks = ModelChecks(settings, router)
    checks.alerts = quality.alerts
    router.add_observer(checks.observe)
    await checks.check(wait_s=STARTUP_WAIT_S)
    return checks
