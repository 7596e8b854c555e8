"""The peers measured beside tiered: LiteLLM's proxy and Portkey's gateway, installed on first use into a
throwaway cache directory (never dependencies of tiered) and run against the same fake upstream.

A peer that cannot be installed or started is reported with the reason, and the run goes on without it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from bench.harness.jobs import Call
from bench.harness.procs import LOOPBACK, Service, free_port
from bench.harness.scenarios import API_HEADERS, CHEAP, FINAL

__all__ = ["LITELLM_VERSION", "PORTKEY_VERSION", "Peer", "PeerSetupError", "install_peer", "peer_calls", "peer_service"]

# litellm 1.82.7 and 1.82.8 were compromised releases: pin one after them. Newer releases than this one need
# `litellm-proxy` / `litellm-proxy-extras` builds that the package index here does not carry.
LITELLM_VERSION: Final = "1.106.12"
PORTKEY_VERSION: Final = "1.15.2"
# Portkey-AI/gateway#1389: @hono/node-server newer than 1.14.2 breaks the gateway's responses on Node.
_HONO_NODE_SERVER: Final = "1.14.2"
_SHIM: Final = Path(__file__).with_name("portkey_shim.mjs")
_INSTALL_TIMEOUT_S: Final = 900


class PeerSetupError(RuntimeError):
    """A peer could not be installed or started; the message says why."""


@dataclass
class Peer:
    """An installed peer: where it lives and the secret its clients present (LiteLLM requires a master key)."""

    name: str
    version: str
    root: Path
    master_key: str = field(default_factory=lambda: "sk-bench-" + secrets.token_hex(16))


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tiered-bench"


def _run(argv: list[str], cwd: Path, log: Path) -> None:
    with open(log, "ab") as fh:
        try:
            done = subprocess.run(
                argv, cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, timeout=_INSTALL_TIMEOUT_S, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PeerSetupError(f"{' '.join(argv[:3])}...: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-8:])
        raise PeerSetupError(f"{' '.join(argv[:4])}... exited with {done.returncode}:\n{tail}")


def _install_litellm(cache: Path) -> Peer:
    root = cache / f"litellm-{LITELLM_VERSION}"
    marker = root / ".installed"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        root.parent.mkdir(parents=True, exist_ok=True)
        log = cache / f"litellm-{LITELLM_VERSION}-install.log"
        _run([sys.executable, "-m", "venv", str(root)], cache, log)
        _run([str(root / "bin" / "pip"), "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"], cache, log)
        marker.write_text(LITELLM_VERSION)
    return Peer("litellm", LITELLM_VERSION, root)


def _install_portkey(cache: Path) -> Peer:
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise PeerSetupError("node and npm are needed for Portkey's gateway; neither is on PATH")
    root = cache / f"portkey-{PORTKEY_VERSION}"
    marker = root / ".installed"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        manifest = {
            "name": "tiered-bench-portkey",
            "private": True,
            "dependencies": {"@portkey-ai/gateway": PORTKEY_VERSION},
            "overrides": {"@hono/node-server": _HONO_NODE_SERVER},
        }
        (root / "package.json").write_text(json.dumps(manifest, indent=2))
        _run(["npm", "install", "--no-audit", "--no-fund"], root, cache / f"portkey-{PORTKEY_VERSION}-install.log")
        marker.write_text(PORTKEY_VERSION)
    return Peer("portkey", PORTKEY_VERSION, root)


def install_peer(name: str, cache: Path) -> Peer:
    """Install ``litellm`` or ``portkey`` into ``cache`` (once; later runs reuse it)."""
    cache.mkdir(parents=True, exist_ok=True)
    if name == "litellm":
        return _install_litellm(cache)
    if name == "portkey":
        return _install_portkey(cache)
    raise PeerSetupError(f"unknown peer {name!r}; known: litellm, portkey")


def peer_service(peer: Peer, fake_url: str, work: Path, log_dir: Path) -> Service:
    """The peer as a service forwarding Anthropic ``/v1/messages`` to the fake upstream."""
    port = free_port()
    if peer.name == "litellm":
        config = work / "litellm.yaml"
        # JSON is YAML: the cheap and the final model routed to the fake, for LiteLLM's own /v1/messages
        config.write_text(
            json.dumps(
                {
                    "model_list": [
                        {
                            "model_name": model,
                            "litellm_params": {
                                "model": f"anthropic/{model}",
                                "api_base": fake_url,
                                "api_key": "bench-key",
                            },
                        }
                        for model in (CHEAP, FINAL)
                    ],
                    "litellm_settings": {"telemetry": False},
                }
            )
        )
        return Service(
            name="litellm",
            argv=[str(peer.root / "bin" / "litellm"), "--config", str(config), "--host", LOOPBACK, "--port", str(port)],
            port=port,
            ready_path="/health/liveliness",
            env={
                "LITELLM_MASTER_KEY": peer.master_key,
                "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the price list at start
                "ANTHROPIC_API_BASE": fake_url,  # for the /anthropic pass-through route
                "ANTHROPIC_API_KEY": "bench-key",
            },
            unset_prefixes=("LITELLM_", "ANTHROPIC_", "OPENAI_", "DATABASE_URL"),
            cwd=work,
            log_path=log_dir / "litellm.log",
            ready_timeout_s=120,
        )
    if peer.name == "portkey":
        script = peer.root / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"
        return Service(
            name="portkey",
            argv=["node", "--import", str(_SHIM), str(script), f"--port={port}", "--headless"],
            port=port,
            ready_path="/",
            env={"NODE_ENV": "production"},
            cwd=peer.root,
            log_path=log_dir / "portkey.log",
        )
    raise PeerSetupError(f"unknown peer {peer.name!r}")


def peer_calls(peer: Peer, service: Service, fake_url: str, body: dict[str, object], stream: bool) -> dict[str, Call]:
    """The targets a peer offers for a pass-through request, by target name."""
    if peer.name == "litellm":
        bearer = {**API_HEADERS, "x-api-key": peer.master_key}
        return {
            "litellm": Call(service.url + "/v1/messages", dict(body), bearer, stream),
            "litellm-passthrough": Call(
                service.url + "/anthropic/v1/messages",
                dict(body),
                {"authorization": f"Bearer {peer.master_key}", "anthropic-version": API_HEADERS["anthropic-version"]},
                stream,
            ),
        }
    headers = {**API_HEADERS, "x-portkey-provider": "anthropic", "x-portkey-custom-host": fake_url + "/v1"}
    return {"portkey": Call(service.url + "/v1/messages", dict(body), headers, stream)}
