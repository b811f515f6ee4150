"""S3's XML errors, and the one mapping from the hub's error hierarchy to S3 error codes.

Messages come from `headwater.errors`, which never hold a secret; they are also sent as
`X-Error-Message`, which the audit trail records as the refusal's reason.
"""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect
from starlette.responses import Response

from headwater.api.errors import header_text
from headwater.api.s3 import xml
from headwater.errors import (
    AuditUnavailable,
    Conflict,
    EndpointRefused,
    HeadwaterError,
    InvalidInput,
    NotFound,
    NotSupported,
    PayloadTooLarge,
    PermissionDenied,
    RangeNotSatisfiable,
    SecretExpired,
    StoreUnavailable,
    Unauthenticated,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

log = logging.getLogger("headwater.s3")


class S3Error(Exception):
    """An S3 error response: its code, message, status and extra headers."""

    def __init__(self, code: str, message: str, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.headers = headers or {}


#: Errors of the access-key and signature pieces, by class name (they live in modules built beside this one).
_BY_NAME: dict[str, tuple[str, int]] = {
    "AccessKeyUnknown": ("InvalidAccessKeyId", 403),
    "AccessKeyExpired": ("ExpiredToken", 400),
    "BadDigest": ("BadDigest", 400),
}
#: SigV4 error codes whose status is 400 (the others are 403).
_MALFORMED = {
    "AuthorizationHeaderMalformed",
    "AuthorizationQueryParametersError",
    "InvalidRequest",
    "XAmzContentSHA256Mismatch",
    "BadDigest",
    "IncompleteBody",
    "InvalidArgument",
}


def s3_error(exc: BaseException, *, missing: str = "NoSuchKey") -> S3Error:
    """The S3 error for any exception; `missing` is the code of a `NotFound` (NoSuchKey, NoSuchBucket, NoSuchUpload)."""
    if isinstance(exc, S3Error):
        return exc
    if isinstance(exc, ClientDisconnect):
        return S3Error("IncompleteBody", "the client went away before sending the whole body", 400)
    named = _BY_NAME.get(type(exc).__name__)
    if named is not None:
        return S3Error(named[0], str(getattr(exc, "message", exc)), named[1])
    if type(exc).__name__ == "SigV4Error":
        code = str(getattr(exc, "code", "SignatureDoesNotMatch"))
        status = getattr(exc, "status", None)
        if not isinstance(status, int):
            status = 400 if code in _MALFORMED else 403
        return S3Error(code, str(getattr(exc, "message", exc)), status)
    if isinstance(exc, RangeNotSatisfiable):
        headers = {"Content-Range": f"bytes */{exc.size}"} if exc.size is not None else {}
        return S3Error("InvalidRange", exc.message, 416, headers)
    if isinstance(exc, NotFound):
        return S3Error(missing, exc.message, 404)
    if isinstance(exc, Unauthenticated):
        return S3Error("InvalidAccessKeyId", exc.message, 403)
    if isinstance(exc, PermissionDenied | SecretExpired | EndpointRefused):
        return S3Error("AccessDenied", exc.message, 403)
    if isinstance(exc, PayloadTooLarge):
        return S3Error("EntityTooLarge", exc.message, 400)
    if isinstance(exc, NotSupported):
        return S3Error("MethodNotAllowed", exc.message, 405)
    if isinstance(exc, InvalidInput):
        return S3Error("InvalidArgument", exc.message, 400)
    if isinstance(exc, Conflict):
        return S3Error("PreconditionFailed", exc.message, 412)
    if isinstance(exc, AuditUnavailable | StoreUnavailable | UpstreamUnavailable | UpstreamTimeout):
        return S3Error("ServiceUnavailable", exc.message, 503)
    if isinstance(exc, UpstreamError | HeadwaterError):
        return S3Error("InternalError", exc.message, exc.status if exc.status >= 500 else 500)
    log.exception("the S3 front door failed on an unexpected error")
    return S3Error("InternalError", "the hub failed to serve this request; it has been logged", 500)


def response(error: S3Error, resource: str, request_id: str, method: str) -> Response:
    """The error as S3 sends it: an XML body (none for HEAD) naming the resource and the request."""
    headers = {
        "X-Error-Message": header_text(error.message),
        "x-amz-request-id": request_id,
        **error.headers,
    }
    if method == "HEAD":
        return Response(status_code=error.status, headers=headers)
    body = document(error, resource, request_id)
    return Response(body, status_code=error.status, headers=headers, media_type="application/xml")


def document(error: S3Error, resource: str, request_id: str, declaration: bool = True) -> bytes:
    """S3's `<Error>` body for the error."""
    return xml.document(
        "Error",
        [("Code", error.code), ("Message", error.message), ("Resource", resource), ("RequestId", request_id)],
        namespace=False,
        declaration=declaration,
    )
