"""The proxy in a background thread on an ephemeral loopback port: for tests, demos and notebooks.

::

    with ProxyThread(settings) as proxy:
        client = anthropic.Anthropic(base_url=proxy.url, api_key=...)
"""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING, Any, Self

if TYPE_CHECKING:
    from types import TracebackType

    import httpx2
    import uvicorn
    from starlette.applications import Starlette

    from ..config import Settings
    from .common import Services

__all__ = ["ProxyThread"]


class ProxyThread:
    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx2.AsyncBaseTransport | None = None,
        use_store: bool = True,
        graceful_shutdown_s: float = 5.0,
    ) -> None:
        from .app import create_app

        self.services: Services | None = None

        def keep(svc: Services) -> None:
            self.services = svc

        self.app: Starlette = create_app(settings, transport=transport, use_store=use_store, configure=keep)
        self._host = settings.server.host
        self._graceful = graceful_shutdown_s
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self.error: BaseException | None = None

    def start(self) -> Self:
        import uvicorn

        from .protocol import TieredHttpProtocol

        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, 0))
        host, port = sock.getsockname()[:2]
        config = uvicorn.Config(
            self.app,
            access_log=False,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=int(self._graceful),
            http=TieredHttpProtocol,
        )
        server = uvicorn.Server(config)

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # surfaced by start()
                self.error = exc

        thread = threading.Thread(target=run, name="tiered-proxy", daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise RuntimeError(f"the proxy did not start: {self.error!r}")
            time.sleep(0.005)
        self._server, self._thread, self.url = server, thread, f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        self._thread.join(self._graceful + 10)
        self._server = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"ProxyThread({self.url or 'stopped'})"

    def decisions(self) -> Any:
        """The in-memory recent-decisions window (tests read it)."""
        assert self.services is not None
        return self.services.recent
