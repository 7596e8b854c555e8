"""A blocking wrapper around :class:`~tiered.router.Router` for code that is not async.

It runs one event loop in a daemon thread, so it works from plain scripts and from places that already run a
loop (notebooks). Use it as a context manager, or call :meth:`SyncRouter.close`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from types import TracebackType

    from .config import Settings
    from .router import Routed, Router

__all__ = ["SyncRouter"]

T = TypeVar("T")


class SyncRouter:
    """``SyncRouter(settings).create(request, route="default")`` returns a :class:`~tiered.router.Routed`."""

    def __init__(self, settings: Settings | None = None, **router_options: Any) -> None:
        from .config import load_settings
        from .router import Router

        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tiered-sync", daemon=True)
        self._thread.start()
        self.router: Router = Router(settings if settings is not None else load_settings(), **router_options)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def create(
        self,
        request: dict[str, Any],
        *,
        route: str = "default",
        headers: Mapping[str, str] | None = None,
    ) -> Routed:
        return self._run(self.router.create(request, route=route, headers=headers))

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._run(self.router.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> SyncRouter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
