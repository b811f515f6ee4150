"""Warnings for a new source whose endpoint this hub would refuse, given at once instead of at its first test.

Only the endpoint policy is asked (`connectors.endpoints`): a host name is resolved, nothing is
connected to. A name that does not resolve gives no warning here; the source's test reports it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from headwater.connectors import endpoints
from headwater.errors import EndpointRefused, HeadwaterError

#: Params that hold an endpoint URL (the S3 family's `endpoint`, the `url` kind's `url`).
URL_PARAMS = ("endpoint", "url")
#: The database kinds' host and port params, with their default ports.
HOST_PARAM, PORT_PARAM = "host", "port"


def _refusal(host: str, port: int, allow_private: bool) -> str | None:
    try:
        endpoints.check_host(host, port, allow_private=allow_private)
    except EndpointRefused as exc:
        return exc.message
    except HeadwaterError:
        return None  # unresolvable: the test says so, with its own state
    return None


def endpoint_warnings(params: dict[str, Any], *, allow_private: bool) -> list[str]:
    """One line per endpoint in `params` that the hub will refuse to connect to under its current policy."""
    found: list[str] = []
    for name in URL_PARAMS:
        value = params.get(name)
        if not isinstance(value, str):
            continue  # absent, or an {envKey} reference resolved only when connecting
        try:
            parts = urlsplit(value)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            continue  # malformed: the kind's own validation or test says so
        if parts.scheme in ("http", "https") and parts.hostname:
            reason = _refusal(parts.hostname, port, allow_private)
            if reason:
                found.append(f"params.{name}: {reason}; `sources test` will answer 308 until then")
    host = params.get(HOST_PARAM)
    if isinstance(host, str) and host:
        raw_port = params.get(PORT_PARAM)
        port = (
            raw_port
            if isinstance(raw_port, int)
            else int(raw_port)
            if isinstance(raw_port, str) and raw_port.isdigit()
            else 0
        )
        reason = _refusal(host, port, allow_private)
        if reason:
            found.append(f"params.{HOST_PARAM}: {reason}; `sources test` will answer 308 until then")
    return found
