"""The demo's traffic: requests replayed through the proxy at a steady rate, and the feedback an app would give.

A dispatcher thread draws arrivals (a Poisson stream at ``rate`` per second) and hands each to a small pool of
workers, which send it through the proxy as an application would (the Messages API; some streamed) and read
the decision headers. Because every replayed item knows whether the cheap model's answer is right, the
generator can also play the application's users: for a share of the shipped answers it posts a thumbs up or
down to ``POST /v1/tiered/decisions/{id}/grade`` (``grader_kind`` ``app``), a little later, since the decision
is written to the store off the request path. Audit samples it does not grade stay pending for a person.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import httpx2

    from .demo_items import Item

__all__ = ["TrafficConfig", "TrafficGenerator", "TrafficStats"]

log = logging.getLogger("tiered.demo")


@dataclass(frozen=True, slots=True)
class TrafficConfig:
    proxy_url: str
    api_key: str
    rate: float = 6.0  # requests per second
    workers: int = 16
    stream_share: float = 0.15
    feedback_share: float = 0.5  # shipped answers the "users" rate
    feedback_delay_s: float = 1.5
    seed: int = 1


@dataclass
class TrafficStats:
    sent: int = 0
    shipped: int = 0
    escalated: int = 0
    failed: int = 0
    graded: int = 0
    dropped: int = 0  # arrivals skipped because every worker was busy
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class TrafficGenerator:
    """``start()`` it once the proxy is up; ``stop()`` ends the stream and waits for requests in flight."""

    def __init__(self, config: TrafficConfig, mix: Sequence[tuple[Sequence[Item], float]]) -> None:
        """``mix``: groups of items (a route each, say) with the share of traffic each group gets."""
        self.mix = [(list(items), share) for items, share in mix if items and share > 0]
        if not self.mix:
            raise ValueError("the traffic generator needs at least one non-empty group of items with a share")
        self.config = config
        self.stats = TrafficStats()
        self._stop = threading.Event()
        self._rng = random.Random(config.seed)
        self._pool = ThreadPoolExecutor(max_workers=config.workers, thread_name_prefix="tiered-demo")
        self._busy = threading.Semaphore(config.workers * 2)
        self._local = threading.local()
        self._feedback: list[tuple[float, int, str, str, int]] = []
        self._feedback_lock = threading.Condition()
        self._threads: list[threading.Thread] = []

    def start(self) -> TrafficGenerator:
        for target, name in ((self._dispatch, "tiered-demo-traffic"), (self._give_feedback, "tiered-demo-feedback")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        with self._feedback_lock:
            self._feedback_lock.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _client(self) -> httpx2.Client:
        client: httpx2.Client | None = getattr(self._local, "client", None)
        if client is None:
            import httpx2

            client = httpx2.Client(base_url=self.config.proxy_url, timeout=60.0)
            self._local.client = client
        return client

    def _dispatch(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            next_at += self._rng.expovariate(self.config.rate)
            delay = next_at - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            if not self._busy.acquire(blocking=False):
                self.stats.add(dropped=1)
                continue
            group = self._rng.choices([g for g, _ in self.mix], weights=[w for _, w in self.mix])[0]
            item = self._rng.choice(group)
            stream = self._rng.random() < self.config.stream_share
            rate_it = self._rng.random() < self.config.feedback_share
            self._pool.submit(self._send, item, stream, rate_it)

    def _send(self, item: Item, stream: bool, rate_it: bool) -> None:
        try:
            headers = self._request(item, stream)
        except Exception as exc:  # the demo keeps going; the dashboard shows failures as decisions
            log.debug("demo request failed: %s", exc)
            self.stats.add(sent=1, failed=1)
            return
        finally:
            self._busy.release()
        escalated = headers.get("x-tiered-escalated") == "true"
        self.stats.add(sent=1, escalated=int(escalated), shipped=int(not escalated))
        decision_id = headers.get("x-tiered-decision-id")
        if rate_it and not escalated and decision_id:
            verdict = "correct" if item.correct else "incorrect"
            due = time.monotonic() + self.config.feedback_delay_s
            with self._feedback_lock:
                heapq.heappush(self._feedback, (due, id(item), decision_id, verdict, 0))
                self._feedback_lock.notify()

    def _request(self, item: Item, stream: bool) -> dict[str, str]:
        body: dict[str, Any] = {
            "model": f"tiered/{item.route}" if item.route != "default" else "tiered",
            "max_tokens": 1024,
            "messages": [{"role": "user", "content": item.prompt}],
        }
        headers = {"x-api-key": self.config.api_key, "anthropic-version": "2023-06-01"}
        client = self._client()
        if not stream:
            response = client.post("/v1/messages", json=body, headers=headers)
            response.raise_for_status()
            return dict(response.headers)
        with client.stream("POST", "/v1/messages", json={**body, "stream": True}, headers=headers) as response:
            response.raise_for_status()
            for _ in response.iter_bytes():
                pass
            return dict(response.headers)

    def _give_feedback(self) -> None:
        while True:
            with self._feedback_lock:
                while not self._stop.is_set() and (not self._feedback or self._feedback[0][0] > time.monotonic()):
                    wait = self._feedback[0][0] - time.monotonic() if self._feedback else None
                    self._feedback_lock.wait(wait)
                if self._stop.is_set():
                    return
                _due, key, decision_id, verdict, tries = heapq.heappop(self._feedback)
            if self._post_grade(decision_id, verdict):
                self.stats.add(graded=1)
            elif tries < 5:
                # not written to the store yet (the writer batches): try again a little later
                with self._feedback_lock:
                    heapq.heappush(self._feedback, (time.monotonic() + 1.0, key, decision_id, verdict, tries + 1))

    def _post_grade(self, decision_id: str, verdict: str) -> bool:
        try:
            response = self._client().post(
                f"/v1/tiered/decisions/{decision_id}/grade",
                json={"verdict": verdict, "grader_kind": "app"},
                headers={"x-api-key": self.config.api_key},
            )
        except Exception as exc:
            log.debug("demo feedback failed: %s", exc)
            return False
        return response.is_success
