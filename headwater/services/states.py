"""The lifecycle states of a data source and how a failed check is classified into one."""

from __future__ import annotations

from dataclasses import dataclass

from headwater import errors


@dataclass(frozen=True)
class State:
    code: str
    reason: str
    healthy: bool = False


REQUIRES_CONFIGURATION = "001"
CONFIGURED = "002"
HEALTHY = "100"

#: Failure codes of a check, by the typed error that the connector raised.
FAILURES: list[tuple[type[errors.HeadwaterError], str, str]] = [
    (errors.SecretExpired, "307", "Secret expired"),
    (errors.EndpointRefused, "308", "Endpoint address refused"),
    (errors.UpstreamAuthFailed, "301", "Bad credentials"),
    (errors.UpstreamPermissionDenied, "302", "Permission denied"),
    (errors.NotFound, "303", "Bucket or path missing"),
    (errors.UpstreamTimeout, "305", "Timed out"),
    (errors.UpstreamTLSError, "306", "TLS failure"),
    (errors.UpstreamUnavailable, "304", "Unreachable"),
    (errors.HeadwaterError, "309", "Check failed"),
]

STATE_TABLE: dict[str, str] = {
    REQUIRES_CONFIGURATION: "Requires configuration.",
    CONFIGURED: "Configured, not tested.",
    HEALTHY: "Healthy.",
    **{code: title for _, code, title in FAILURES},
}


def requires_configuration(missing: list[str]) -> State:
    return State(
        REQUIRES_CONFIGURATION, "Requires configuration." + (f" Missing: {', '.join(missing)}." if missing else "")
    )


def configured() -> State:
    return State(CONFIGURED, "Configured, not tested.")


def healthy() -> State:
    return State(HEALTHY, "Healthy.", True)


def failed(error: errors.HeadwaterError) -> State:
    for error_type, code, title in FAILURES:
        if isinstance(error, error_type):
            return State(code, f"{title}: {error.message}")
    raise AssertionError("unreachable: HeadwaterError is the last row")  # pragma: no cover
