"""A scenario in play: merges its layers for one request and decides whether a scripted fault fires."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime

from tiered.fake_upstream.cache import PromptCache
from tiered.fake_upstream.directives import behaviour_for, find_directives
from tiered.fake_upstream.scenario import Behaviour, Fault, Sample, Scenario

__all__ = ["Resolution", "Runtime"]


@dataclass(frozen=True, slots=True)
class Resolution:
    """The merged behaviour for one request and the fault that fires on it (``None`` when none does)."""

    behaviour: Behaviour
    fault: Fault | None


class Runtime:
    """The mutable state of a scenario: how often each fault was met, and the seeded fault dice.

    It lives on the server's event loop; replacing the scenario (or resetting) swaps in a new runtime. The
    prompt cache is the app's and outlives a runtime; its clock is the fake's clock (also the date that
    decides which models are retired).
    """

    def __init__(self, scenario: Scenario, cache: PromptCache | None = None) -> None:
        self.scenario = scenario
        self.cache = cache if cache is not None else PromptCache()
        self._defaults = scenario.defaults()
        self._counts: dict[str, int] = {}
        self._dice = random.Random(scenario.seed)

    def today(self) -> date:
        """Today's date (UTC) by the fake's clock."""
        return datetime.fromtimestamp(self.cache.clock(), UTC).date()

    def resolve(self, text: str, model: str) -> Resolution:
        """Merge defaults, the first matching rule and the directives in ``text`` (the last user message).

        Raises :class:`~tiered.fake_upstream.directives.DirectiveError` for an unreadable directive.
        """
        behaviour = self._defaults
        source = "scenario"
        for index, rule in enumerate(self.scenario.rules):
            if rule.matches(text, model):
                behaviour = rule.over(behaviour)
                if rule.fault is not None:
                    source = f"rule:{index}"
                break
        scripted = behaviour_for(find_directives(text), model)
        if scripted is not None:
            layer, fault_source = scripted
            behaviour = layer.over(behaviour)
            if fault_source:
                source = f"directive:{fault_source}"
        if behaviour.samples:
            behaviour = self._sample(behaviour, behaviour.samples, text, model)
        fault = behaviour.fault
        if fault is not None and (fault.kind == "none" or not self._fires(source, fault)):
            fault = None
        return Resolution(behaviour, fault)

    def _sample(self, behaviour: Behaviour, samples: tuple[Sample, ...], text: str, model: str) -> Behaviour:
        """Per-sample scripting: the n-th call with this model and last user message gets sample ``n + seed``
        (mod k), so any k calls of one request meet each scripted sample once, whatever their order."""
        key = f"sample\0{model}\0{text}"
        count = self._counts.get(key, 0)
        self._counts[key] = count + 1
        sample = samples[(count + self.scenario.seed) % len(samples)]
        layer = sample.model_dump(exclude_unset=True, exclude_defaults=True)
        if sample.null_answer:
            layer["answer"] = None
        return Behaviour.model_validate(layer).over(behaviour) if layer else behaviour

    def _fires(self, source: str, fault: Fault) -> bool:
        count = self._counts.get(source, 0) + 1
        self._counts[source] = count
        if fault.times is not None and count > fault.times:
            return False
        return fault.probability is None or self._dice.random() < fault.probability
