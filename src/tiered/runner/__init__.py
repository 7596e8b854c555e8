"""The runner: the I/O around the pure cascade of :mod:`tiered.cascade`.

It drives :func:`tiered.cascade.policy.cascade` against providers (calls, streams, hedges, the breaker and
the in-flight caps), reads triage replies as they arrive, builds the caller's reply, and writes one decision
per request to the sink it was given (:mod:`.deps`). See docs/architecture.md. Nothing is imported here: import
the modules (:mod:`.stream`, :mod:`.recording`, ...) themselves.
"""
