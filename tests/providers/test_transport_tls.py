"""The lean transport over TLS, against a loopback server with a self-signed certificate for ``localhost``.

The certificate is made with the ``openssl`` command (the ``cryptography`` package is not a dependency); the
tests are skipped, saying why, where it is missing or fails.
"""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tiered.providers._transport import LeanTransport

from .test_transport import Received, Upstream, anyio_backend, response

__all__ = ["anyio_backend"]

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed, so no test certificate can be made")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [
        openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"openssl could not make a test certificate: {done.stderr.strip()[:300]}")
    return cert, key


@pytest.fixture
def server_context(certificate: tuple[Path, Path]) -> tuple[ssl.SSLContext, list[str | None]]:
    """A server context that offers h2 first (the client must still pick http/1.1) and records SNI names."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    context.set_alpn_protocols(["h2", "http/1.1"])
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    return context, names


def trusting(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


async def alpn_echo(request: Received, reader: Any, writer: asyncio.StreamWriter) -> None:
    protocol = writer.get_extra_info("ssl_object").selected_alpn_protocol()
    writer.write(response(f"{protocol} {request.body.decode()}".encode()))


async def test_https_with_sni_alpn_and_keep_alive(
    certificate: tuple[Path, Path], server_context: tuple[ssl.SSLContext, list[str | None]]
) -> None:
    context, names = server_context
    http = httpx2.AsyncClient(transport=LeanTransport(verify=trusting(certificate)))
    async with Upstream(alpn_echo, ssl=context) as server, http:
        for text in ("one", "two", "three"):
            reply = await http.post(server.url, content=text.encode())
            assert reply.content == f"http/1.1 {text}".encode()
    assert names == ["localhost"] and server.connections == 1


async def test_streaming_and_early_close_over_tls(
    certificate: tuple[Path, Path], server_context: tuple[ssl.SSLContext, list[str | None]]
) -> None:
    async def handler(request: Received, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await reader.read()  # until the client goes away
        return False

    http = httpx2.AsyncClient(transport=LeanTransport(verify=trusting(certificate)))
    async with Upstream(handler, ssl=server_context[0]) as server, http:
        async with http.stream("GET", server.url) as reply:
            assert await reply.aiter_raw().__anext__() == b"first"
        await server.wait_ended(1)


async def test_an_untrusted_certificate_is_a_connect_error(
    server_context: tuple[ssl.SSLContext, list[str | None]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
    async with Upstream(alpn_echo, ssl=server_context[0]) as server:
        async with httpx2.AsyncClient(transport=LeanTransport()) as http:  # system trust only
            with pytest.raises(httpx2.ConnectError, match=r"CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
                await http.get(server.url)
        async with httpx2.AsyncClient(transport=LeanTransport(verify=False)) as http:
            assert (await http.get(server.url)).content == b"http/1.1 "
