"""The services behind the proxy, opened on start and closed on shutdown, in one place."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Literal

import anyio.to_thread

from ..config import Settings, tiered_home
from ..errors import ConfigError
from ..router import Exchange, Router
from ..upstreams import Upstreams
from .auth import Authenticator, KeyInfo
from .common import RecentDecisions, Services
from .limits import Admission, KeyLimits, store_counter

if TYPE_CHECKING:
    import httpx2

    from ..decision import Decision

__all__ = ["auth_mode", "open_services"]

log = logging.getLogger("tiered.server")


def auth_mode(settings: Settings) -> Literal["passthrough", "keys"]:
    mode = settings.server.auth
    if mode == "auto":
        return "keys" if settings.provider("anthropic").api_key is not None else "passthrough"
    return mode


@contextlib.asynccontextmanager
async def open_services(
    settings: Settings, *, transport: httpx2.AsyncBaseTransport | None = None, use_store: bool = True
) -> AsyncIterator[Services]:
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
        log.info("tiered proxy ready (auth: %s)", mode)
        yield svc


class _Store:
    """The decision store as the server uses it: a writer fed by the router, key checks, lookups."""

    def __init__(self, settings: Settings) -> None:
        from ..store import DecisionWriter, KeyStore, default_database_url, load_pepper, make_engine, upgrade

        url = default_database_url(settings)
        self.engine = make_engine(url)
        upgrade(self.engine)
        self.writer = DecisionWriter(self.engine).start()
        pepper = settings.server.key_pepper.get_secret_value() if settings.server.key_pepper else None
        self.keys = KeyStore(self.engine, load_pepper(tiered_home(settings.home), pepper))

    def observe(self, decision: Decision, exchange: Exchange) -> None:
        self.writer.submit(decision)

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
        self.engine.dispose()


def _open_store(settings: Settings) -> _Store:
    return _Store(settings)
