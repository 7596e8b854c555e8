"""Schema-based fuzzing with schemathesis, from a small OpenAPI description of the two model endpoints
(``openapi.json`` beside this file), through the real proxy over loopback.

Schemathesis sends requests that fit the description and requests that break it (wrong types, missing fields,
missing or odd headers). Checks: no 5xx, every documented response in its documented shape (errors in the
endpoint's own error JSON), the documented content types, and the proxy still up.

schemathesis is one of the ``dev`` extras; the test skips only where it is not installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import pytest

schemathesis = pytest.importorskip(
    "schemathesis", reason="schemathesis is not installed (pip install 'schemathesis>=4.32,<5')"
)

from hypothesis import HealthCheck, settings  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tiered.server.thread import ProxyThread  # noqa: E402

SCHEMA = schemathesis.openapi.from_path(Path(__file__).with_name("openapi.json"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@SCHEMA.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_the_endpoints_keep_their_contract(case: Any, proxy: ProxyThread) -> None:
    case.call_and_validate(base_url=proxy.url, checks=CHECKS, timeout=30)


def test_the_proxy_is_still_up(proxy: ProxyThread) -> None:
    assert httpx2.get(proxy.url + "/healthz", timeout=5).status_code == 200
    assert proxy.error is None
