"""The S3 front door's ASGI app: one catch-all that dispatches on method, path-style bucket/key and subresources.

A lean ASGI callable rather than FastAPI: S3 has no per-route schema to check, and a small request
should cost little more than the backend's own round trip. Every request is bracketed by the same
audit middleware as the Data API: authenticated, its event is durable before the operation runs
(`AuditLog.begin`), and completed with its outcome when the response ends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from urllib.parse import parse_qsl, unquote

from starlette.datastructures import State
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from headwater.api.audit import AuditMiddleware
from headwater.api.s3 import buckets, errors, listing, operations, uploads
from headwater.api.s3.auth import Authenticated, Authenticator, default_authenticator, presented_key_id
from headwater.api.s3.context import S3Request, raw_key
from headwater.api.s3.errors import S3Error
from headwater.errors import InvalidInput
from headwater.services.audit import Pending
from headwater.services.hub import Hub

Handler = Callable[[S3Request], Awaitable[Response]]

#: Subresources of buckets and objects the front door does not implement (answered `NotImplemented`).
UNSUPPORTED = frozenset(
    {
        "acl",
        "policy",
        "policyStatus",
        "cors",
        "lifecycle",
        "versioning",
        "versions",
        "tagging",
        "website",
        "logging",
        "notification",
        "replication",
        "encryption",
        "object-lock",
        "retention",
        "legal-hold",
        "torrent",
        "restore",
        "select",
        "accelerate",
        "analytics",
        "inventory",
        "metrics",
        "ownershipControls",
        "publicAccessBlock",
        "requestPayment",
        "intelligent-tiering",
        "attributes",
        "uploadId-marker",
    }
)


def not_implemented(what: str) -> S3Error:
    return S3Error("NotImplemented", f"{what} is not supported by the hub's S3 front door", 501)


def bucket_operation(method: str, params: dict[str, str]) -> tuple[str, Handler]:
    if method == "HEAD":
        return "HeadBucket", operations.head_bucket
    if method == "GET":
        if "location" in params:
            return "GetBucketLocation", operations.bucket_location
        if "uploads" in params:
            return "ListMultipartUploads", uploads.list_uploads
        return ("ListObjectsV2" if params.get("list-type") == "2" else "ListObjects"), operations.list_objects
    if method == "POST" and "delete" in params:
        return "DeleteObjects", operations.delete_objects
    if method == "PUT":
        raise not_implemented("creating a bucket (buckets are the hub's connections)")
    if method == "DELETE":
        raise not_implemented("deleting a bucket (buckets are the hub's connections)")
    raise not_implemented(f"{method} on a bucket")


def object_operation(method: str, params: dict[str, str], headers: dict[str, str]) -> tuple[str, Handler]:
    upload = "uploadId" in params
    if method == "HEAD":
        return "HeadObject", operations.head_object
    if method == "GET":
        return ("ListParts", uploads.list_parts) if upload else ("GetObject", operations.get_object)
    if method == "PUT":
        if upload or "partNumber" in params:
            copy = "x-amz-copy-source" in headers
            return ("UploadPartCopy" if copy else "UploadPart"), uploads.upload_part
        if "x-amz-copy-source" in headers:
            return "CopyObject", operations.copy_object
        return "PutObject", operations.put_object
    if method == "POST":
        if "uploads" in params:
            return "CreateMultipartUpload", uploads.create
        if upload:
            return "CompleteMultipartUpload", uploads.complete
        raise not_implemented("POST on an object (browser uploads)")
    if method == "DELETE":
        return ("AbortMultipartUpload", uploads.abort) if upload else ("DeleteObject", operations.delete_object)
    raise not_implemented(f"{method} on an object")


def _has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers", []):
        if name == b"transfer-encoding" or (name == b"content-length" and value.strip() not in (b"0", b"")):
            return True
    return False


def split_path(scope: Scope) -> tuple[str, str]:
    """(bucket, raw key) of a path-style request path; the key still percent-encoded."""
    raw_bytes: bytes = scope.get("raw_path") or scope["path"].encode()
    raw = raw_bytes.decode("latin-1").split("?", 1)[0]
    bucket, _, key = raw.lstrip("/").partition("/")
    return unquote(bucket), key


class S3App:
    """The S3 API over one hub (`hub` may be set later, by the app serving the other port)."""

    def __init__(self, hub: Hub | None = None, authenticator: Authenticator | None = None) -> None:
        self.state = State()
        self.state.hub = hub
        self.authenticator = authenticator
        self._audited = AuditMiddleware(self._serve, prefixes=("/",))

    @property
    def hub(self) -> Hub:
        hub: Hub | None = self.state.hub
        if hub is None:
            raise S3Error("ServiceUnavailable", "the hub is starting", 503)
        return hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # served alone (tests): nothing to start; the hub is the caller's
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        scope["app"] = self
        await self._audited(scope, receive, send)

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        body_done = [not _has_body(scope)]

        async def tracking_receive() -> Message:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done[0] = True
            return message

        request = Request(scope, tracking_receive)
        pending: Pending | None = scope.get("state", {}).get("audit")
        request_id = pending.request_id if pending is not None else ""
        try:
            response = await self.handle(request, pending)
        except Exception as exc:  # every failure is an S3 error, never a bare 500 page
            error = errors.s3_error(exc)
            response = errors.response(error, unquote(request.url.path), request_id, request.method)
        response.headers["x-amz-request-id"] = request_id
        if not body_done[0]:
            # Answered before the body was read (a refusal, or `Expect: 100-continue` never continued):
            # the connection cannot carry another request, whatever of the body is still on its way.
            response.headers["Connection"] = "close"
        await response(scope, tracking_receive, send)

    async def _authenticate(self, request: Request, pending: Pending | None) -> Authenticated:
        try:
            return await self._authenticated(request, pending)
        except Exception:
            key_id = presented_key_id(request)
            if pending is not None and key_id:
                pending.token_hmac = self.hub.audit.digest(key_id)  # correlates refusals, names no key
            raise

    async def _authenticated(self, request: Request, pending: Pending | None) -> Authenticated:
        hub = self.hub
        if self.authenticator is None:
            self.authenticator = default_authenticator(hub)
        auth = await self.authenticator.authenticate(request)
        if auth.unconfirmed is not None and pending is not None:
            # A cached key: trusted only if its organization's `auth` stamp, read in the transaction that
            # writes this request's event, still holds (a revocation by any process is honoured).
            pending.caller = auth.caller
            current = await hub.audit.begin_checked(pending, auth.caller.org_id, auth.unconfirmed)
            if current is not None:
                return replace(auth, stamps=current, unconfirmed=None, afresh=None)
            pending.caller = None  # stale: nothing was written; the store decides
        if auth.unconfirmed is not None:
            assert auth.afresh is not None
            auth = await auth.afresh()
        if pending is not None:
            pending.caller = auth.caller
            await hub.audit.begin(pending)  # no event, no operation
        return auth

    async def handle(self, request: Request, pending: Pending | None) -> Response:
        method = request.method
        params = dict(parse_qsl(request.url.query, keep_blank_values=True))
        headers = {k.lower(): v for k, v in request.headers.items()}
        bucket_name, raw = split_path(request.scope)
        if pending is not None:
            pending.route = f"s3 {method}"
        auth = await self._authenticate(
            request, pending
        )  # first: a stranger learns nothing, not even what is supported
        unsupported = UNSUPPORTED & params.keys()
        handler: Handler | None
        if not bucket_name:
            name, handler = "ListBuckets", None
        elif unsupported:
            raise not_implemented(f"the {sorted(unsupported)[0]!r} subresource")
        elif raw == "":
            name, handler = bucket_operation(method, params)
        else:
            name, handler = object_operation(method, params, headers)
        if pending is not None:
            pending.route = f"s3 {name}"
        if handler is None:
            if method != "GET":
                raise not_implemented(f"{method} on the service")
            if pending is not None:
                pending.operation = "data.list"
            shown = await buckets.list_buckets_async(self.hub, auth.caller)
            return operations.xml_response(listing.list_buckets(shown, auth.caller))
        bucket = buckets.resolve(bucket_name)
        try:
            key = raw_key(raw)
        except InvalidInput as exc:
            raise S3Error("InvalidArgument", exc.message, 400) from None
        s3 = S3Request(self.hub, request, auth, bucket, key, params, pending)
        return await handler(s3)


def create_s3_app(hub: Hub | None = None, authenticator: Authenticator | None = None) -> S3App:
    return S3App(hub, authenticator)
