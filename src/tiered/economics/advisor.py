"""The runner's one entry point to the economics: :meth:`Economics.plan` before a request's cascade, and
:meth:`Ticket.settle` with its finished decision.

``plan`` fingerprints the request, reads (in one round trip) each tier's prompt-cache state for its prefix and
the conversation's state, and advises where the cascade should start: :attr:`Ticket.skip` is ``None`` (triage
as usual) or a :class:`Skip` to a later tier, with reason ``not_worth_triage`` (the expected-cost rule, see
:mod:`.expected_cost`) or ``policy`` (an escalated conversation staying on the final tier, ``stay_up_s``).
:attr:`Ticket.final_warm` is what the counterfactual needs (see :mod:`.counterfactual`).

``settle`` learns from every relayed call's usage (routed or passed through): the prefixes each model cached,
with their TTL, the counterfactual final tier's cache (it would have seen every turn), the ship rates, and the
conversation's turns and escalations. It never raises and never waits: with Redis, the write is a task.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from ..accounting import INSTRUCTION_TOKENS, WRAPPER_TOKENS, cache_penalty
from ..decision import AttemptRole, Decision, EscalationReason, Outcome
from .answer_lengths import AnswerLengths
from .cache_state import CacheState, Conversation, KeyValueStore, MemoryStore, RedisStore, Snapshot, Write
from .expected_cost import EXPECTED_OUTPUT_TOKENS, Choice, Prompt, TierView, choose
from .fingerprint import Fingerprint, fingerprint
from .ship_rates import ShipRates, Similar, depth_bucket, size_bucket

if TYPE_CHECKING:
    from ..config import RouteSettings, Settings
    from ..pricing import PriceBook

__all__ = ["Economics", "Skip", "Ticket", "namespace"]

log = logging.getLogger("tiered.economics")
Clock = Callable[[], float]
CONVERSATION_PRIOR: Final = 1.0  # pseudo-triages of the similar requests' ship rate in a conversation's own
MAX_HORIZON: Final = 8  # turns over which a cheap tier's cache write is amortized, at most
EXPLORE_EVERY: Final = 20  # of the requests not worth a triage, this one in so many is triaged anyway


def namespace(model: str, role: str) -> str:
    """A cache namespace: ``<model>|triage``, ``<model>|direct`` or ``<model>|cf`` (see CacheState)."""
    return f"{model}|{role}"


@dataclass(frozen=True, slots=True)
class Skip:
    """Start the cascade at ``tier`` (the final tier: answer there directly), for ``reason``."""

    tier: int
    reason: EscalationReason
    detail: str


@dataclass(slots=True)
class Ticket:
    """One request's economics: the advice before its cascade, the lessons after it."""

    economics: Economics | None
    route_name: str
    route: RouteSettings | None
    print_: Fingerprint | None
    snapshot: Snapshot | None = None
    skip: Skip | None = None
    choice: Choice | None = None
    final_warm: int = 0
    similar: Similar | None = None  # the request's ship-rate bucket, as planned
    penalty_usd: float | None = None  # the cache-miss penalty the cascade caused, once settled
    settled: bool = field(default=False)

    @property
    def cascade_skip(self) -> tuple[int, EscalationReason, str] | None:
        """The advice as :func:`tiered.cascade.policy.cascade`'s ``skip`` argument."""
        return (self.skip.tier, self.skip.reason, self.skip.detail) if self.skip is not None else None

    def settle(self, decision: Decision) -> None:
        """Learn from the finished ``decision`` (once). Never raises: a lesson lost is only a lesson."""
        if self.settled or self.economics is None or self.print_ is None:
            return
        self.settled = True
        try:
            self.economics.learn(self, decision)
        except Exception:
            log.exception("economics could not learn from decision %s", decision.id)


class Economics:
    """Per-process economics: cache state (in-process or shared through Redis), ship rates, conversations."""

    def __init__(
        self, settings: Settings, prices: PriceBook, *, store: KeyValueStore | None = None, clock: Clock = time.time
    ) -> None:
        self.prices = prices
        self.clock = clock
        if store is None:
            url = settings.redis_url.get_secret_value() if settings.redis_url is not None else None
            store = RedisStore(url, clock=clock) if url else MemoryStore(clock=clock)
        self.store = store
        self.state = CacheState(store)
        self.ship_rates = ShipRates()
        self.answer_lengths = AnswerLengths()  # the output estimate, learned per route and prompt size
        self.skipped = 0
        self.not_worth = 0  # requests the rule found not worth a triage (explored ones included)
        self.penalty_usd = 0.0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def shared(self) -> bool:
        return isinstance(self.store, RedisStore)

    @property
    def healthy(self) -> bool:
        """False while the shared store (Redis) fails and this replica decides from its own state."""
        return not isinstance(self.store, RedisStore) or self.store.healthy

    async def status(self) -> dict[str, Any]:
        """For ``/readyz``: ``local`` (in-process state), ``shared`` (Redis answers) or ``degraded`` (Redis does
        not: this replica decides from its own state; requests do not fail for it). Pings Redis."""
        if not isinstance(self.store, RedisStore):
            return {"state": "local"}
        up = await self.store.probe()
        out: dict[str, Any] = {"state": "shared" if up else "degraded", "failures": self.store.failures}
        if not up:
            out["detail"] = "Redis is unreachable: this replica decides from its own state"
        return out

    async def plan(
        self,
        request: Mapping[str, Any],
        route_name: str,
        route: RouteSettings,
        headers: Mapping[str, str] | None = None,
        *,
        passthrough: bool = False,
    ) -> Ticket:
        """The ticket for one request (see the module docstring). Never raises."""
        try:
            return await self._plan(request, route_name, route, headers, passthrough)
        except Exception:
            log.exception("economics could not plan a request on route %r; triaging as usual", route_name)
            return Ticket(None, route_name, route, None)

    async def _plan(
        self,
        request: Mapping[str, Any],
        route_name: str,
        route: RouteSettings,
        headers: Mapping[str, str] | None,
        passthrough: bool,
    ) -> Ticket:
        print_ = fingerprint(request, headers, estimate=not passthrough)
        final = route.tiers[-1].model
        ticket = Ticket(self, route_name, route, print_)
        if passthrough or len(route.tiers) == 1:
            snap = await self.state.snapshot(print_, [namespace(final, "cf")])
            ticket.snapshot, ticket.final_warm = snap, snap.warm[namespace(final, "cf")]
            return ticket
        spaces = [namespace(t.model, "triage") for t in route.tiers[:-1]]
        spaces += [namespace(final, "direct"), namespace(final, "cf")]
        snap = await self.state.snapshot(print_, spaces)
        ticket.snapshot, ticket.final_warm = snap, snap.warm[namespace(final, "cf")]
        now = self.clock()
        if route.stay_up_s is not None and snap.conversation.stay_up_until > now:
            left = snap.conversation.stay_up_until - now
            detail = f"stay_up: the conversation escalated before; it stays on {final} for {left:.0f}s more"
            ticket.skip = Skip(len(route.tiers) - 1, EscalationReason.POLICY, detail)
        elif route.triage_when == "worth_it":
            ticket.similar = _similar(print_, snap.conversation)
            ticket.choice = self._choose(route_name, route, print_, request, snap, ticket.similar)
            if ticket.choice is not None and ticket.choice.tier > 0:
                self.not_worth += 1
                # one such request in EXPLORE_EVERY is triaged all the same: ship rates learn only from triages,
                # and a tier that stopped shipping for a while must be able to show it ships again
                if self.not_worth % EXPLORE_EVERY:
                    ticket.skip = Skip(ticket.choice.tier, EscalationReason.NOT_WORTH_TRIAGE, ticket.choice.detail)
        if ticket.skip is not None:
            self.skipped += 1
        return ticket

    def _choose(
        self,
        route_name: str,
        route: RouteSettings,
        print_: Fingerprint,
        request: Mapping[str, Any],
        snap: Snapshot,
        similar: Similar,
    ) -> Choice | None:
        views = []
        last = len(route.tiers) - 1
        for tier, spec in enumerate(route.tiers):
            rates = self.prices.rates(spec.model)
            if rates is None:
                return None  # a tier without a flat price: no expectation to weigh, triage as usual
            if tier == last:
                views.append(TierView(spec.model, rates, snap.estimated[namespace(spec.model, "direct")]))
            else:
                rate, samples = self.ship_rates.rate(route_name, tier, similar)
                if tier == 0:  # the conversation's own record first: similar requests are only its prior
                    own = snap.conversation
                    rate = (own.shipped + CONVERSATION_PRIOR * rate) / (own.triaged + CONVERSATION_PRIOR)
                warm = snap.estimated[namespace(spec.model, "triage")]
                views.append(TierView(spec.model, rates, warm, rate, samples))
        max_tokens = request.get("max_tokens")
        limit = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else EXPECTED_OUTPUT_TOKENS
        last_ttl = print_.breakpoints[-1].ttl_s if print_.breakpoints else 300.0
        prompt = Prompt(
            tokens=print_.tokens,
            cacheable=print_.cacheable_tokens,
            output=min(limit, self.answer_lengths.typical(route_name, similar.size)),
            write_1h=last_ttl > 300.0,
            triage_input=INSTRUCTION_TOKENS,
            triage_wrapper=WRAPPER_TOKENS,
            horizon=min(max(snap.conversation.turns, 1), MAX_HORIZON),
        )
        return choose(views, prompt)

    # -- learning -----------------------------------------------------------------------------------------

    def learn(self, ticket: Ticket, decision: Decision) -> None:
        print_, route = ticket.print_, ticket.route
        assert print_ is not None
        writes: list[Write] = []
        cached_most = 0
        for attempt in decision.attempts if print_.breakpoints else ():  # nothing cacheable: nothing to write
            usage = attempt.usage
            cached = usage.cache_read_input_tokens + usage.cache_creation_input_tokens
            role = "triage" if attempt.role is AttemptRole.TRIAGE else "direct"
            writes.extend(self.state.cached(print_, namespace(attempt.model, role), cached))
            if attempt.role is AttemptRole.TRIAGE:
                cached -= INSTRUCTION_TOKENS if print_.breakpoints[-1:] and cached > INSTRUCTION_TOKENS else 0
            cached_most = max(cached_most, cached)
        final = route.tiers[-1].model if route is not None else (decision.answered_by or "")
        # the all-final path would have cached this turn's prefix on the final tier, whoever answered
        writes.extend(self.state.cached(print_, namespace(final, "cf"), cached_most))
        answering = next((a for a in reversed(decision.attempts) if a.outcome in _ANSWERS), None)
        ticket.penalty_usd = decision.cache_penalty_usd  # the recorder priced it (the decision carries it)
        if ticket.penalty_usd is None:
            ticket.penalty_usd = cache_penalty(answering, final, self.prices, final_warm=ticket.final_warm)
        self.penalty_usd += ticket.penalty_usd or 0.0
        snap = ticket.snapshot
        conversation = snap.conversation if snap is not None else Conversation()
        if not decision.passthrough and route is not None:
            similar = ticket.similar or _similar(print_, conversation)
            self._learn_ship_rates(ticket.route_name, similar, decision)
            if answering is not None and not answering.usage_estimated:
                wrapper = WRAPPER_TOKENS if answering.outcome is Outcome.SHIPPED else 0
                self.answer_lengths.observe(ticket.route_name, similar.size, answering.usage.output_tokens - wrapper)
        escalated = decision.escalated and decision.error is None
        until = conversation.stay_up_until
        if escalated and route is not None and route.stay_up_s is not None:
            until = self.clock() + route.stay_up_s
        triaged = any(a.role is AttemptRole.TRIAGE and a.outcome in _JUDGED for a in decision.attempts)
        shipped = any(a.role is AttemptRole.TRIAGE and a.outcome is Outcome.SHIPPED for a in decision.attempts)
        updated = Conversation(
            conversation.turns + 1,
            conversation.escalations + int(escalated),
            until,
            conversation.triaged + int(triaged),
            conversation.shipped + int(shipped),
        )
        writes.append(self.state.conversation_write(print_, updated))
        self._save(writes)

    def _learn_ship_rates(self, route_name: str, similar: Similar, decision: Decision) -> None:
        for attempt in decision.attempts:
            if attempt.role is AttemptRole.TRIAGE and attempt.outcome in _JUDGED:
                self.ship_rates.observe(route_name, attempt.tier, similar, attempt.outcome is Outcome.SHIPPED)

    def _save(self, writes: list[Write]) -> None:
        if isinstance(self.store, MemoryStore):
            self.store.set_many(writes)  # in-process: at once, so the next request sees it
            return
        try:
            task = asyncio.get_running_loop().create_task(self.state.save(writes))
        except RuntimeError:  # no running loop (a sync caller): nothing can be awaited here
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait for the pending shared-state writes (tests, and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        await self.drain()
        if isinstance(self.store, RedisStore):
            await self.store.aclose()


_ANSWERS = frozenset({Outcome.SHIPPED, Outcome.ANSWERED})
_JUDGED = frozenset({Outcome.SHIPPED, Outcome.ESCALATED, Outcome.INVALID})


def _similar(print_: Fingerprint, conversation: Conversation) -> Similar:
    return Similar(size_bucket(print_.tokens), depth_bucket(print_.depth), conversation.escalations > 0)
