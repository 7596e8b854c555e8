"""Routing that knows what a call will cost: prompt caches, conversations, and triage that pays for itself.

- :mod:`.fingerprint` (pure): a request's conversation and the digests of its cacheable prefixes.
- :mod:`.cache_state`: what each model has cached per prefix, and each conversation's state; in-process, or
  shared between replicas through Redis.
- :mod:`.expected_cost` (pure): triage, or go straight to the tier cheapest in expectation.
- :mod:`.ship_rates`: the observed ship rate of similar requests (size, depth, escalated before).
- :mod:`.counterfactual` (pure): the all-final-tier cost with the cache that path would have had.
- :mod:`.advisor`: the runner's entry point (``Economics.plan`` before a cascade, ``Ticket.settle`` after).

Nothing is imported here, so that the pure modules can be used without the rest (see docs/economics.md).
"""
