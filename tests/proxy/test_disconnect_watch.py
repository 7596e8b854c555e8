"""DisconnectWatch: the protocol's hook when the scope has one, else a task waiting for ``http.disconnect``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tiered.server.protocol import DISCONNECT_HOOKS, DisconnectWatch

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_the_protocol_hook_calls_back_once_and_is_removed_on_close() -> None:
    hooks: list[Any] = []
    calls: list[str] = []

    async def receive() -> dict[str, Any]:
        raise AssertionError("a watch on the protocol's hooks never reads the request")

    watch = DisconnectWatch({DISCONNECT_HOOKS: hooks}, receive, lambda: calls.append("gone"))
    assert len(hooks) == 1 and not watch.gone
    hooks[0]()
    hooks[0]()
    assert watch.gone and calls == ["gone"]
    watch.close()
    assert hooks == []


async def test_without_the_hook_a_watcher_waits_for_the_disconnect_message() -> None:
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    calls: list[str] = []

    async def receive() -> dict[str, Any]:
        return await messages.get()

    watch = DisconnectWatch({}, receive, lambda: calls.append("gone"))
    await messages.put({"type": "http.request", "body": b"", "more_body": False})
    await asyncio.sleep(0)
    assert not watch.gone
    await messages.put({"type": "http.disconnect"})
    for _ in range(10):
        await asyncio.sleep(0)
    assert watch.gone and calls == ["gone"]
    watch.close()


async def test_closing_before_a_disconnect_stops_watching() -> None:
    messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    calls: list[str] = []

    async def receive() -> dict[str, Any]:
        return await messages.get()

    watch = DisconnectWatch({}, receive, lambda: calls.append("gone"))
    await asyncio.sleep(0)
    watch.close()
    await messages.put({"type": "http.disconnect"})
    for _ in range(10):
        await asyncio.sleep(0)
    assert not watch.gone and calls == []


async def test_cancel_on_disconnect_cancels_the_handler_itself_and_answers_client_gone() -> None:
    from types import SimpleNamespace

    from tiered.server.common import ClientGoneError, cancel_on_disconnect

    hooks: list[Any] = []
    request: Any = SimpleNamespace(scope={DISCONNECT_HOOKS: hooks}, receive=None)
    started = asyncio.Event()
    reached_the_end = []

    async def work() -> str:
        started.set()
        await asyncio.sleep(30)
        reached_the_end.append(True)
        return "answer"

    async def handler() -> str:
        try:
            return await cancel_on_disconnect(request, work)
        except ClientGoneError:
            task = asyncio.current_task()
            assert task is not None and task.cancelling() == 0  # the handler goes on, not left cancelled
            await asyncio.sleep(0)
            return "client gone"

    handling = asyncio.ensure_future(handler())
    await started.wait()
    hooks[0]()  # the connection is lost
    assert await handling == "client gone" and not reached_the_end and hooks == []
    # finished work: the hook is gone, nothing is cancelled later
    assert await cancel_on_disconnect(request, lambda: asyncio.sleep(0, "done")) == "done"
    assert hooks == []
