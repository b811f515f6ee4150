"""The one error hierarchy. Every layer raises these; `api/errors.py` maps them to HTTP.

Messages are written for the caller and must never contain a secret value or a
credential-bearing URL.
"""

from __future__ import annotations


class HeadwaterError(Exception):
    """Base of every error the hub raises on purpose."""

    code: str = "error"
    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(HeadwaterError):
    """The caller sent something malformed; the message names what."""

    code = "invalid_input"
    status = 400


class Unauthenticated(HeadwaterError):
    code = "unauthenticated"
    status = 401


class AccessKeyUnknown(Unauthenticated):
    """An S3 access key id that names no live key (never issued, revoked, or its token revoked)."""

    code = "access_key_unknown"
    status = 401


class AccessKeyExpired(Unauthenticated):
    """An S3 access key past its expiry (its own, or that of the token that issued it)."""

    code = "access_key_expired"
    status = 401


class PermissionDenied(HeadwaterError):
    """The caller is known but the operation is not allowed; the message names the rule."""

    code = "permission_denied"
    status = 403


class NotFound(HeadwaterError):
    code = "not_found"
    status = 404


class NotAFile(InvalidInput):
    """A read addressed a directory; the Data API answers a GET of one with its listing."""

    code = "invalid_input"


class NoSuchUpload(NotFound):
    """A multipart upload id that is unknown (never begun, completed, aborted, or another organization's)."""


class InvalidPart(InvalidInput):
    """A part named when completing a multipart upload was never uploaded, or its ETag differs."""


class InvalidPartOrder(InvalidInput):
    """The parts named when completing a multipart upload are not in ascending order."""


class EntityTooSmall(InvalidInput):
    """A part of a multipart upload, other than the last, is smaller than the backend's least part size."""


class RangeNotSatisfiable(HeadwaterError):
    """A byte range that selects nothing of the file; `size` is the file's, when known."""

    code = "range_not_satisfiable"
    status = 416

    def __init__(self, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.size = size


class LinkInvalid(HeadwaterError):
    """A signed link was not issued by this hub, or was altered."""

    code = "link_invalid"
    status = 403


class LinkExpired(HeadwaterError):
    code = "link_expired"
    status = 410


class Conflict(HeadwaterError):
    code = "conflict"
    status = 409


class PayloadTooLarge(HeadwaterError):
    code = "payload_too_large"
    status = 413


class NotSupported(HeadwaterError):
    """The connection's kind cannot do this (a write to an input-only kind, say)."""

    code = "not_supported"
    status = 405


class SecretExpired(HeadwaterError):
    code = "secret_expired"
    status = 403


class EndpointRefused(HeadwaterError):
    """The endpoint's address is one the hub will not connect to (metadata, link-local, private)."""

    code = "endpoint_refused"
    status = 403


class VaultError(HeadwaterError):
    """A ciphertext could not be opened: wrong key, tampered data, or moved to another row."""

    code = "vault_error"
    status = 500


class AuditUnavailable(HeadwaterError):
    """The audit event could not be written, so the operation is refused."""

    code = "audit_unavailable"
    status = 503


class StoreUnavailable(HeadwaterError):
    """The hub's own store cannot be reached or used right now: the request changed nothing; retry it."""

    code = "store_unavailable"
    status = 503


class UpstreamError(HeadwaterError):
    """The backend failed in a way the caller cannot fix by changing the request."""

    code = "upstream_error"
    status = 502


class UpstreamAuthFailed(UpstreamError):
    code = "upstream_auth_failed"
    status = 502


class UpstreamPermissionDenied(UpstreamError):
    code = "upstream_permission_denied"
    status = 502


class UpstreamUnavailable(UpstreamError):
    code = "upstream_unavailable"
    status = 502


class UpstreamTimeout(UpstreamError):
    code = "upstream_timeout"
    status = 504


class UpstreamTLSError(UpstreamError):
    code = "upstream_tls_error"
    status = 502
