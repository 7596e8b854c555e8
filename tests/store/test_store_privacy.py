from __future__ import annotations

import pytest

from tiered.store.privacy import REDACTED, Content, ContentReason, redact

SECRETS = [
    ("sk-ant-api03-" + "A" * 40, "anthropic key"),
    ("sk-proj-" + "b" * 40, "openai project key"),
    ("sk-" + "c1" * 20, "openai key"),
    ("tk-" + "d" * 43, "tiered virtual key"),
    ("AKIAIOSFODNN7EXAMPLE", "aws access key id"),
    ("ghp_" + "e" * 36, "github token"),
]


@pytest.mark.parametrize(("secret", "what"), SECRETS)
def test_known_key_shapes_are_redacted(secret: str, what: str) -> None:
    text = f"please use {secret} for this"
    assert redact(text) == f"please use {REDACTED} for this", what


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def", f"Authorization: {REDACTED}"),
        ("curl -H 'x-api-key: abcd1234efgh' url", f"curl -H 'x-api-key: {REDACTED}' url"),
        ('{"api_key": "hunter2hunter2"}', f'{{"api_key": "{REDACTED}"}}'),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", f"aws_secret_access_key = {REDACTED}"),
        ("token: Bearer abcdefgh12345678", f"token: Bearer {REDACTED}"),
        ("password=correcthorse", f"password={REDACTED}"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----", REDACTED),
    ],
)
def test_credentials_in_context_are_redacted(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "What is the capital of France?",
        "Use the sk- prefix for keys, and a Bearer token in the header.",
        "def key(x): return x.api_key",
        "task-list and risk-assessment are ordinary words",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact(text) == text


def test_content_repr_hides_the_text() -> None:
    content = Content("my secret question", "the answer", ContentReason.AUDIT)
    assert "secret" not in repr(content)
    assert "18 chars" in repr(content)
