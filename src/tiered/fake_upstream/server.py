"""Serving the fake with uvicorn: :func:`run` in the foreground (the CLI), :class:`FakeUpstream` in a
background thread (tests, demos, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import TYPE_CHECKING, Self

from tiered.fake_upstream.app import FakeApp
from tiered.fake_upstream.cache import Clock
from tiered.fake_upstream.log import RequestRecord
from tiered.fake_upstream.scenario import Scenario

if TYPE_CHECKING:
    import uvicorn

__all__ = ["FakeUpstream", "run"]

_STARTUP_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0


def _server(app: FakeApp, host: str, port: int, log_level: str) -> uvicorn.Server:
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="off",
        access_log=False,
        log_level=log_level,
        # Streams still running at shutdown are told to stop (app.closing); this bounds the wait for them.
        timeout_graceful_shutdown=2,
        # Idle connections kept longer than any client pool keeps them (tiered's: 30 s; the load generator's: 4 s),
        # so that a request is never written on a connection the fake is closing at that moment.
        timeout_keep_alive=75,
    )
    return uvicorn.Server(config)


def run(host: str = "127.0.0.1", port: int = 8765, scenario: Scenario | None = None) -> None:
    """Serve the fake upstream in the foreground until interrupted (Ctrl-C)."""
    app = FakeApp(scenario)
    server = _server(app, host, port, "info")
    try:
        server.run()
    finally:
        app.closing = True


class FakeUpstream:
    """A fake upstream on ``127.0.0.1`` and an ephemeral port, served from a background thread.

    Use it as a context manager, ``with`` or ``async with``::

        with FakeUpstream(Scenario(ttft_ms=50)) as fake:
            client = anthropic.Anthropic(base_url=fake.url, api_key="test")
            ...
            assert fake.requests[-1].is_triage
    """

    def __init__(
        self,
        scenario: Scenario | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log_limit: int = 10_000,
        clock: Clock = time.time,
    ) -> None:
        # clock: seconds since the epoch, for the prompt cache's TTLs and model retirement (tests inject one;
        # it can also be swapped later through ``app.cache.clock``)
        self.app = FakeApp(scenario, log_limit=log_limit, clock=clock)
        self._host = host
        self._port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The base URL (use it as ``ANTHROPIC_BASE_URL``; OpenAI clients add ``/v1``)."""
        if self._url is None:
            raise RuntimeError("the fake upstream is not running: call start() or use it as a context manager")
        return self._url

    @property
    def scenario(self) -> Scenario:
        return self.app.scenario

    @scenario.setter
    def scenario(self, scenario: Scenario) -> None:
        self.app.scenario = scenario

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the request log, oldest first."""
        return self.app.log.snapshot()

    def reset(self) -> None:
        """Forget logged requests, fault counters, batches and the prompt cache; keep the scenario."""
        self.app.reset()

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Block until no request is in flight (their records are then final)."""
        if not self.app.log.wait_idle(timeout):
            raise TimeoutError(f"the fake upstream still has {self.app.log.in_flight} request(s) in flight")

    async def wait_idle_async(self, seconds: float = 5.0) -> None:
        """:meth:`wait_idle` for async tests (waits in a worker thread)."""
        import anyio.to_thread

        await anyio.to_thread.run_sync(self.wait_idle, seconds)

    def start(self) -> Self:
        if self._thread is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self._host, self._port))
        host, port = sock.getsockname()[:2]
        self.app.closing = False
        server = _server(self.app, host, port, "warning")
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="tiered-fake-upstream", daemon=True
        )
        thread.start()
        deadline = time.monotonic() + _STARTUP_TIMEOUT_S
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                sock.close()
                raise RuntimeError("the fake upstream did not start; see the uvicorn log above")
            time.sleep(0.005)
        self._server, self._thread, self._url = server, thread, f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self.app.closing = True
        self._server.should_exit = True
        self._thread.join(_STOP_TIMEOUT_S)
        self._server, self._thread, self._url = None, None, None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self.start)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        import anyio.to_thread

        await anyio.to_thread.run_sync(self.stop)
