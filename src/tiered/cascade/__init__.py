"""The pure cascade: what to call, and what to make of each reply. No I/O, no clock, no randomness.

- :mod:`.policy`: the algorithm, one generator (start here).
- :mod:`.triage`: the triage contract (instruction, output schema) added to a caller's request.
- :mod:`.stream_parse`: reading a triage reply, whole or as it streams.
- :mod:`.capabilities` (data in ``_capability_data``): what each Claude model accepts, a source per fact;
  :mod:`.fit` asks it whether a request fits a model, :mod:`.rewrites` adapts a request to one,
  :mod:`.betas` and :mod:`.schema_refs` serve both.
- :mod:`.stop_sequences`: the caller's stop sequences applied to a shipped answer.

The runner (:mod:`tiered.router` and its parts) does the I/O around it.
"""
