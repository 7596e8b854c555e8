"""Translation between the OpenAI chat-completions format ("chat") and the Anthropic Messages format
("messages"), both ways. Pure functions and small state machines: no I/O, no clock, no randomness.

Two users:

- the proxy's OpenAI endpoint takes a chat request (:func:`chat_request_to_messages`), routes it as a
  Messages request, and answers with :func:`messages_response_to_chat` or, streaming, with
  :class:`MessagesToChatStream`; errors are shaped by :func:`chat_error_body` / :func:`chat_error_line`;
- the OpenAI-compatible provider sends a Messages request to a chat server (:func:`messages_request_to_chat`)
  and reads the answer back (:func:`chat_response_to_messages`, :class:`ChatToMessagesStream`).

A bad request raises :class:`InvalidFieldError` (an :class:`~tiered.errors.InvalidRequestError`) whose
message starts with the dotted path of the field (``messages.2.role: must be one of ...``); an unreadable
upstream response raises :class:`~tiered.errors.UpstreamProtocolError`. Each module's docstring lists the
choices it makes where the two formats differ.
"""

from tiered.openai_compat._chat_request import (
    DEFAULT_MAX_TOKENS,
    JSON_OBJECT_INSTRUCTION,
    MessagesRequest,
    chat_request_to_messages,
)
from tiered.openai_compat._common import InvalidFieldError, finish_reason_for, stop_reason_for
from tiered.openai_compat._errors import chat_error_body, chat_error_line
from tiered.openai_compat._messages_request import MaxTokensField, messages_request_to_chat
from tiered.openai_compat._responses import chat_response_to_messages, messages_response_to_chat
from tiered.openai_compat._schema import is_strict_compatible
from tiered.openai_compat._stream_to_chat import DONE_LINE, MessagesToChatStream
from tiered.openai_compat._stream_to_messages import ChatToMessagesStream

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "DONE_LINE",
    "JSON_OBJECT_INSTRUCTION",
    "ChatToMessagesStream",
    "InvalidFieldError",
    "MaxTokensField",
    "MessagesRequest",
    "MessagesToChatStream",
    "chat_error_body",
    "chat_error_line",
    "chat_request_to_messages",
    "chat_response_to_messages",
    "finish_reason_for",
    "is_strict_compatible",
    "messages_request_to_chat",
    "messages_response_to_chat",
    "stop_reason_for",
]
