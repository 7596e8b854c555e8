"""A realistic, scriptable fake of the Anthropic (and OpenAI chat) API over real HTTP.

It stands in for the real upstream in tests, demos and benchmarks, and lets users try tiered offline
(``tiered fake-upstream --port P``)::

    with FakeUpstream(Scenario(ttft_ms=80, tokens_per_s=150)) as fake:
        client = anthropic.Anthropic(base_url=fake.url, api_key="test")

Endpoints (every response has a ``request-id`` header): ``POST /v1/messages`` (JSON and SSE),
``POST /v1/messages/count_tokens``, ``GET /v1/models`` (and ``/v1/models/{id}``), Message Batches under
``/v1/messages/batches``, ``POST /v1/chat/completions`` (OpenAI, JSON and streaming). Control:
``GET /_fake/requests``, ``POST /_fake/reset``, ``GET|PUT /_fake/scenario``, ``GET /_fake/health``.

Replies
    A *triage* request (``output_config.format`` json_schema with ``confidence`` and ``answer`` properties,
    or a forced ``tiered_triage`` tool; for OpenAI ``response_format`` json_schema or a forced
    ``tiered_triage`` function) gets ``{"confidence": c, "answer": ...}`` as text or as the tool input. When
    the answer schema is the caller's own schema, the answer is a value that fits it. Other requests get
    plain text (or JSON fitting the caller's output schema, or a call of a forced tool). Unscripted replies
    are deterministic per (seed, model, conversation): about 80% of triages are confident (0.82-0.99, with an
    answer), the rest are not (0.05-0.6, null answer). Answers sometimes contain quotes, backslashes,
    newlines and non-ASCII text. One generated word is one token.

Strictness
    ``/v1/messages`` refuses what the real API refuses, with its status, error type and (where known) message,
    each rule citing its source: models it does not serve or that are retired (404 ``not_found_error``,
    ``model: <id>``; the model table is :mod:`tiered.cascade.capabilities`, and models listed in ``Scenario.models``
    are served without per-model rules); per model, a prefill, a prompt over the context window (the fake's
    own count: four characters a token, plus ``max_tokens``), ``max_tokens`` over the output ceiling, sampling
    parameters, thinking modes and budgets, a forced tool, ``effort`` or structured outputs the model does not
    take (:mod:`~tiered.fake_upstream.models`); whatever the model, both structured-output forms at once, a
    ``$ref`` that does not resolve from the schema root, recursive schemas, unsupported schema keywords,
    citations with structured outputs (:mod:`~tiered.fake_upstream.shapes`); more than four ``cache_control``
    breakpoints or a 1-hour one after a 5-minute one.

Prompt cache
    Per model, at ``cache_control`` breakpoints (and the top-level ``cache_control`` of automatic caching),
    with the documented 20-block look-back, minimum cacheable lengths and 5-minute/1-hour TTLs refreshed on
    read; ``usage`` reports ``cache_read_input_tokens``, ``cache_creation_input_tokens`` and its
    ``cache_creation`` split, and ``input_tokens`` is the uncached rest (:mod:`~tiered.fake_upstream.cache`).
    The clock is injectable (``FakeUpstream(clock=...)`` or ``app.cache.clock``); :meth:`FakeApp.reset`
    empties the cache. Scripted usage (below) wins over the cache's figures.

Scenario
    :class:`Scenario` (TOML or JSON, :meth:`Scenario.load`) holds defaults (``ttft_ms``, ``tokens_per_s``,
    ``usage``, ``fault``, ``seed``, ``api_key``, ``models``, ``batch_delay_s``) and ordered ``rules``; the first
    rule whose ``contains`` / ``regex`` / ``model`` match the last user message and model applies. Layers
    merge field by field: scenario defaults < rule < inline directives.

Inline directives
    Anywhere in the last user message::

        [[fake confidence=0.3 tokens=200]]
        [[fake fault=overloaded times=2]]
        [[fake haiku:confidence=0.2 opus:tokens=50]]
        [[fake answer="He said \\"hi\\"\\nthen left" ttft=150 tps=40]]

    Grammar: ``"[[fake" { SP [scope ":"] key "=" value } "]]"``. A *scope* limits the item to models it
    matches: a glob when it has ``*?[`` (``claude-*-4-5``), else a substring (``haiku``). A *value* is a
    bare word (no spaces, quotes or ``]``), ``null``, or a JSON string in double quotes (JSON escapes; it may
    not contain ``]]``). Later items win. Keys:

    - ``confidence`` (0..1), ``answer`` (text or ``null``), ``tokens`` (answer length in tokens)
    - ``samples`` (answers separated by ``|``, ``null`` for a null answer): *per-sample scripting*. The n-th
      call with the same model and last user message answers ``samples[(n + seed) % k]``, so k calls of one
      request (the k samples of a consistency check) get each scripted answer once, in whichever order they
      arrive; ``confidence`` still applies to each. In a scenario, a rule's ``samples`` are objects
      ``{answer, confidence}``, so each sample can state its own confidence.
    - ``ttft`` (ms), ``tps`` (tokens per second; 0 = as fast as possible)
    - ``input_tokens``, ``output_tokens``, ``cache_read``, ``cache_creation`` (5-minute writes),
      ``cache_creation_1h`` (1-hour writes): usage overrides, which win over the prompt cache's figures
    - ``fault`` (a :data:`FaultKind`, or 429/529/500/503/504; ``none`` cancels a scenario-wide fault) with
      ``times`` (first N calls only), ``p`` (probability), ``after`` (events before a stream is cut, stalled
      or broken), ``retry_after`` (s), ``hang`` (s, for ``timeout`` and ``stall``), ``message``

    A triage answers only when its confidence is 0.5 or more unless ``answer`` is given. A directive that
    cannot be read is answered with 400 ``invalid_request_error`` naming the problem.

Latency
    Streams follow an absolute schedule: the first content token at ``ttft``, token *i* at
    ``ttft + i / tps``; every token already due is written at once, so high rates neither drift nor cost a
    sleep per token. JSON replies are sent after ``ttft + n / tps``.
"""

from tiered.fake_upstream.app import FakeApp
from tiered.fake_upstream.log import RequestLog, RequestRecord
from tiered.fake_upstream.scenario import FAULT_KINDS, Behaviour, Fault, FaultKind, Rule, Scenario, UsageOverride
from tiered.fake_upstream.server import FakeUpstream, run

__all__ = [
    "FAULT_KINDS",
    "Behaviour",
    "FakeApp",
    "FakeUpstream",
    "Fault",
    "FaultKind",
    "RequestLog",
    "RequestRecord",
    "Rule",
    "Scenario",
    "UsageOverride",
    "run",
]
