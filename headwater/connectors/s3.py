"""The S3 family: kind `s3` (any S3-compatible endpoint) and the presets `aws`, `gcp` and `storj`.

One implementation on obstore; each provider's quirks are a row in
`headwater.connectors.s3_profiles`. A connection never uses the hub's own cloud
identity: the store is built from explicit configuration only, signed with the
source's secret through a credential callback, or unsigned when there is none.

Directories: S3 has none. A directory exists while at least one key lives under
`dir/`. `mkdir` makes that true by writing a zero-byte marker `dir/.headwater-folder`
(obstore cannot write the `dir/` keys s3fs and the AWS console use: its paths drop a
trailing slash). Markers never appear in listings or counts, a directory holding
only its marker is empty, and the name is reserved. A directory that was never
made, only written into, disappears with its last file, as on S3 itself.
"""

from __future__ import annotations

import builtins
import contextlib
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import anyio
import httpx
import obstore as obs
from obstore.exceptions import NotFoundError, PermissionDeniedError, UnauthenticatedError
from obstore.store import S3Store
from pydantic import Field, field_validator

from headwater.addresses import normalise_path
from headwater.connectors import endpoints, guarded_proxy, s3_parts, s3_service
from headwater.connectors.base import (
    DEFAULT_CHUNK,
    PAGE_SIZE,
    Capabilities,
    Connector,
    Credentials,
    Entry,
    Listing,
    Opened,
    Params,
    PartsUpload,
    Span,
    UploadedPart,
    decode_marker,
    encode_marker,
)
from headwater.connectors.http import classify_transport_error
from headwater.connectors.kind import BuildContext, Kind
from headwater.connectors.prefetch import Ahead
from headwater.connectors.redaction import redact_urls
from headwater.connectors.s3_profiles import PROFILES, Profile

if TYPE_CHECKING:
    from obstore import GetOptions
    from obstore.store import S3Credential

from headwater.errors import (
    Conflict,
    EndpointRefused,
    EntityTooSmall,
    HeadwaterError,
    InvalidInput,
    InvalidPart,
    InvalidPartOrder,
    NoSuchUpload,
    NotAFile,
    NotFound,
    NotSupported,
    RangeNotSatisfiable,
    UpstreamAuthFailed,
    UpstreamError,
    UpstreamPermissionDenied,
    UpstreamTimeout,
    UpstreamTLSError,
    UpstreamUnavailable,
)
from headwater.settings import environment_values

PROBE_PREFIX = ".headwater-check-"
FOLDER_MARKER = ".headwater-folder"
#: Sorts after every key below `name/`: resuming after `name/` + this skips a whole folder.
PAST_FOLDER = "\U0010ffff"
LIST_CHUNK = 1000
#: The largest object one CopyObject request copies (S3's limit): larger ones are streamed through the hub.
MAX_COPY = 5 * 1024**3
#: Seconds the entries a page looked ahead at are kept for the request of the next page (which starts with them).
CONTINUATION_SECONDS = 5.0
CONTINUATIONS_KEPT = 32
#: Encryption settings obstore reads from the process environment and no explicit setting can remove.
ENV_ENCRYPTION = (
    "AWS_SERVER_SIDE_ENCRYPTION",
    "AWS_SSE_KMS_KEY_ID",
    "AWS_SSE_CUSTOMER_KEY_BASE64",
    "AWS_SSE_BUCKET_KEY_ENABLED",
)


# ---------------------------------------------------------------------------------------------
# Parameters


#: How long a failed upload waits for its parts in flight before it aborts the multipart upload.
ABORT_DRAIN_SECONDS = 30.0


class S3PresetParams(Params):
    """Where the data lives at a provider whose endpoint is known."""

    endpoint: str | None = Field(default=None, description="Override the provider's endpoint URL (http or https).")
    region: str | None = Field(default=None, description="Region to sign requests for.")
    bucket: str | None = Field(
        default=None,
        description="The bucket. Without one, the first path segment names it (s3+label://bucket/key).",
    )
    prefix: str | None = Field(
        default=None, description="A key prefix inside the bucket that is this connection's root."
    )
    path_style: bool | None = Field(
        default=None,
        alias="pathStyle",
        description="Path-style (endpoint/bucket/key) rather than virtual-host addressing.",
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("endpoint must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise ValueError("endpoint must not carry credentials: put them in a secret")
        if parts.path not in {"", "/"} or parts.query or parts.fragment:
            raise ValueError("endpoint must be scheme://host[:port] with no path or query")
        try:
            _ = parts.port  # reading it checks it
        except ValueError:
            raise ValueError("endpoint has an invalid port") from None
        return value.rstrip("/")

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        if value is not None and not _BUCKET.fullmatch(value):
            raise ValueError("bucket must be 3-222 letters, digits, '.', '-' or '_', with no '/'")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            normalised, _ = normalise_path(value)
        except HeadwaterError as exc:
            raise ValueError(f"prefix is not a safe path: {exc.message}") from None
        return normalised or None


class S3Params(S3PresetParams):
    """An S3-compatible endpoint of your choosing."""

    endpoint: str = Field(description="Endpoint URL of the S3 API, e.g. https://minio.example.com:9000.")


_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,220}[A-Za-z0-9]")


# ---------------------------------------------------------------------------------------------
# Errors: built from the S3 error code and the transport failure, never from obstore's text


_CODE = re.compile(r"<Code>([A-Za-z0-9.]{1,64})</Code>")
_STATUS = re.compile(r"status code: (\d{3})")
_XML = re.compile(r"<\?xml.*?</Error>", re.DOTALL)
_PATH_FIELD = re.compile(r'path: "(?:[^"\\]|\\.)*"')
_RETRY_SETTINGS = re.compile(r"\b(?:max_)?retr(?:y_timeout|ies): [^,\n]*")

AUTH_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidToken",
        "ExpiredToken",
        "TokenRefreshRequired",
        "InvalidSecurity",
    }
)
PERMISSION_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "AccountProblem", "InvalidObjectState"})
REGION_CODES = frozenset({"AuthorizationHeaderMalformed", "PermanentRedirect", "IllegalLocationConstraintException"})
BUSY_CODES = frozenset({"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout"})


def _transport_text(text: str) -> str:
    """The parts of an error that describe the transport: its debug chain without URLs, bodies or key names."""
    _, marker, debug = text.partition("Debug source:")
    chain = debug if marker else text
    for pattern in (_XML, _PATH_FIELD, _RETRY_SETTINGS):
        chain = pattern.sub("", chain)
    return redact_urls(chain).lower()


def s3_code(exc: BaseException) -> str | None:
    """The S3 error code of the backend's answer (`NoSuchBucket`), when it sent one."""
    found = _CODE.search(str(exc))
    return found.group(1) if found else None


def http_status(exc: BaseException) -> int | None:
    """The HTTP status the backend answered with, when the failure was an answer."""
    found = _STATUS.search(str(exc))
    return int(found.group(1)) if found else None


def translate(exc: BaseException, host: str, bucket: str, key: str | None = None) -> HeadwaterError:
    """Map a backend failure to the hub's errors, with a message that holds nothing from the backend.

    The S3 error code decides first (obstore reports NoSuchBucket and NoSuchKey alike as not
    found, and a bad key as a refusal); then obstore's typed errors and the status; then the transport.
    """
    if isinstance(exc, HeadwaterError):
        return exc
    text = str(exc)
    code = s3_code(exc)
    status = http_status(exc)
    where = f"{key!r} in bucket {bucket!r}" if key else f"bucket {bucket!r}"
    if code == "NoSuchBucket":
        return NotFound(f"bucket {bucket!r} does not exist at {host}")
    if code in AUTH_CODES:
        return UpstreamAuthFailed(
            f"{host} refused the credentials ({code}): check the secret's access key and secret key"
        )
    if code in PERMISSION_CODES:
        return UpstreamPermissionDenied(f"the credentials are not allowed to do this on {where} ({code})")
    if code in REGION_CODES:
        return UpstreamError(f"{host} says {bucket!r} is in another region ({code}): set the source's region")
    if status == 407:
        # The guarded proxy could not tell whose request it was: a redirect the client followed to
        # another host over plain http, from inside an https tunnel the proxy cannot read.
        return EndpointRefused(
            f"{host} redirected a request to another host over plain http, which the hub never follows"
        )
    if code == "InvalidRange":
        return InvalidInput(f"the requested range is outside {where}")
    if code in BUSY_CODES or (status is not None and status >= 500):
        return UpstreamUnavailable(f"{host} is unavailable or overloaded ({code or status})")
    if isinstance(exc, (FileNotFoundError, NotFoundError)) or code == "NoSuchKey" or status == 404:
        return NotFound(f"{key!r} does not exist in bucket {bucket!r}" if key else f"bucket {bucket!r} does not exist")
    if isinstance(exc, UnauthenticatedError) or status == 401:
        return UpstreamAuthFailed(f"{host} refused the credentials: check the secret's access key and secret key")
    if isinstance(exc, PermissionDeniedError) or status == 403:
        return UpstreamPermissionDenied(f"the credentials are not allowed to do this on {where}")
    transport = _transport_text(text)
    if any(s in transport for s in ("kind: timeout", "timedout", "timed out", "deadline has elapsed")):
        return UpstreamTimeout(f"{host} did not answer in time")
    if any(s in transport for s in ("certificate", "invalidcontenttype", "invalidmessage", "tls", "ssl", "handshake")):
        return UpstreamTLSError(f"TLS with {host} failed: is it an https endpoint with a valid certificate?")
    if any(s in transport for s in ("dns error", "failed to lookup")):
        return UpstreamUnavailable(f"host {host} could not be resolved")
    if any(
        s in transport
        for s in ("connectionrefused", "connection refused", "connect", "connection reset", "sending request")
    ):
        return UpstreamUnavailable(f"{host} could not be reached")
    return UpstreamError(f"{host} failed ({code or status or type(exc).__name__})")


#: The S3 error codes of multipart requests that are the client's to hear, as the hub's errors.
MULTIPART_CODES: dict[str, tuple[type[HeadwaterError], str]] = {
    "NoSuchUpload": (NoSuchUpload, "the backend has no such upload: it was completed or aborted"),
    "InvalidPart": (InvalidPart, "the backend has not got one of the parts named, or its ETag differs"),
    "InvalidPartOrder": (InvalidPartOrder, "the parts must be listed in ascending order of their numbers"),
    "EntityTooSmall": (EntityTooSmall, "a part other than the last is smaller than the backend accepts"),
}


# ---------------------------------------------------------------------------------------------
# Stores: built from explicit configuration only


@dataclass(frozen=True)
class Timeouts:
    """Network bounds, in seconds. Checks use the short `check` bound and no retries."""

    connect: float = 5.0
    request: float = 3600.0
    idle: float = 60.0
    retries: int = 3
    retry_window: float = 30.0
    check: float = 5.0


@dataclass(frozen=True)
class Location:
    """Where a connection points, resolved from its params and its provider's profile."""

    profile: Profile
    endpoint: str
    region: str
    bucket: str | None
    prefix: str
    path_style: bool | None

    @property
    def host(self) -> str:
        return urlsplit(self.endpoint).netloc

    def bucket_endpoint(self, bucket: str) -> tuple[str, bool]:
        """The URL requests for `bucket` go to, and whether it is path-style."""
        if self.profile.uses_path_style(self.path_style, bucket):
            return self.endpoint, True
        parts = urlsplit(self.endpoint)
        return f"{parts.scheme}://{bucket}.{parts.netloc}", False


def _static_credentials(credentials: Credentials) -> Callable[[], S3Credential]:
    access_key, secret_key = credentials.access_key, credentials.secret_key
    token = credentials.values.get("sessionToken") or None
    if not access_key or not secret_key:
        raise InvalidInput("the secret needs both an accessKey and a secretKey for an S3 connection")

    def provide() -> S3Credential:
        return {"access_key_id": access_key, "secret_access_key": secret_key, "token": token, "expires_at": None}

    return provide


def make_store(
    location: Location,
    bucket: str,
    credentials: Credentials | None,
    timeouts: Timeouts,
    *,
    probe: bool,
    route: guarded_proxy.Route,
) -> S3Store:
    """An S3Store for one bucket whose every setting is explicit.

    obstore seeds its builder from `AWS_*` variables; each setting that could carry the
    hub's identity or change where requests go is given here so the environment never
    decides it. Credentials come from a callback (so no ambient key, session token or
    instance role is ever consulted); without a secret, requests are not signed at all.
    Encryption keys in the environment cannot be overridden, so they are refused.
    Every connection goes through the guarded proxy of `route`: obstore follows redirects
    and resolves names itself, and the proxy checks and pins each connection it makes.
    """
    url, path_style = location.bucket_endpoint(bucket)
    profile = location.profile
    config: dict[str, Any] = {
        "endpoint": url,
        "region": location.region,
        "virtual_hosted_style_request": not path_style,
        "skip_signature": credentials is None,
        "unsigned_payload": False,
        "request_payer": False,
        "s3_express": False,
        "disable_bulk_delete": not profile.bulk_delete,
    }
    if profile.checksum:
        config["checksum_algorithm"] = profile.checksum
    inherited = list(environment_values(ENV_ENCRYPTION))
    if inherited:
        # obstore would send the hub's KMS key id or SSE-C key to this endpoint, and has no way to unset them.
        raise UpstreamError(
            f"the hub's environment sets {', '.join(inherited)}, which obstore would apply to every S3 connection: "
            "the operator must unset it"
        )
    bound = timeouts.check if probe else timeouts.request
    client_options: dict[str, Any] = {
        "allow_http": url.startswith("http://"),
        "allow_invalid_certificates": False,
        "connect_timeout": timedelta(seconds=min(timeouts.connect, bound)),
        "timeout": timedelta(seconds=bound),
        "user_agent": "headwater",
        "proxy_url": route.url,
        # Connections to the guard are kept (it keeps checked, pinned ones on to the backend): idle
        # ones are let go before the guard would drop them.
        "pool_idle_timeout": timedelta(seconds=guarded_proxy.POOL_IDLE_SECONDS),
    }
    if not probe:
        client_options["read_timeout"] = timedelta(seconds=timeouts.idle)
    retry = {
        "max_retries": 0 if probe else timeouts.retries,
        "retry_timeout": timedelta(seconds=bound if probe else timeouts.retry_window),
    }
    extra: dict[str, Any] = {}
    if credentials is not None:
        extra["credential_provider"] = _static_credentials(credentials)
    return S3Store(bucket, config=config, client_options=client_options, retry_config=retry, **extra)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# The connector

#: Children in key order, each with the position to resume listing after it.
Found = list[tuple[Entry, str]]
Keys = list[str]


@dataclass(frozen=True)
class _Spot:
    """A path resolved to a bucket and key; `root` when it is the connection's (or a bucket's) root."""

    bucket: str
    key: str
    root: bool

    @property
    def lead(self) -> str:
        """What every key below this spot starts with."""
        return self.key + "/" if self.key else ""


class S3Connector(Connector):
    """Objects in one bucket (or, with no bucket configured, in the bucket the path names) below a prefix."""

    kind: ClassVar[str] = "s3"
    capabilities: ClassVar[Capabilities] = Capabilities(input=True, output=True, copies=True, parts=True)

    def __init__(
        self,
        location: Location,
        credentials: Credentials | None = None,
        *,
        allow_private_endpoints: bool = False,
        chunk_size: int = DEFAULT_CHUNK,
        timeouts: Timeouts = Timeouts(),
    ) -> None:
        self.location = location
        self.credentials = credentials
        self.allow_private = allow_private_endpoints
        self.chunk_size = chunk_size
        self.timeouts = timeouts
        self._stores: dict[tuple[str, bool], S3Store] = {}
        self._multipart: s3_parts.Multipart | None = None
        self._route = guarded_proxy.route(
            allow_private=allow_private_endpoints, connect_timeout=min(timeouts.connect, timeouts.check)
        )
        if credentials is not None:
            _static_credentials(credentials)  # refuse an incomplete secret now, not on first request
        self._checked: set[str] = set()
        #: (bucket, folder key, position) → when it expires, and the entries listed after that position.
        self._continuations: OrderedDict[tuple[str, str, str], tuple[float, Found]] = OrderedDict()
        if location.bucket is not None:
            self._check_endpoint(location.bucket)
        else:  # each bucket's own host (virtual-host addressing) is checked when first used
            endpoints.check_url(location.endpoint, allow_private=allow_private_endpoints)
            self._checked.add(location.host)

    # -- plumbing

    def _check_endpoint(self, bucket: str) -> None:
        url, _ = self.location.bucket_endpoint(bucket)
        host = urlsplit(url).netloc
        if host not in self._checked:
            endpoints.check_url(url, allow_private=self.allow_private)
            self._checked.add(host)

    async def _store(self, bucket: str, *, probe: bool = False) -> S3Store:
        store = self._stores.get((bucket, probe))
        if store is None:
            url, _ = self.location.bucket_endpoint(bucket)
            if urlsplit(url).netloc not in self._checked:
                await anyio.to_thread.run_sync(self._check_endpoint, bucket)
            store = make_store(self.location, bucket, self.credentials, self.timeouts, probe=probe, route=self._route)
            self._stores[(bucket, probe)] = store
        return store

    def _spot(self, path: str) -> _Spot:
        parts = path.split("/") if path else []
        for part in parts:
            if part in {"", ".", ".."} or "\\" in part or "\x00" in part:
                raise InvalidInput(f"path {path!r} is not a normalised path")
            if part == FOLDER_MARKER:
                raise InvalidInput(f"the name {FOLDER_MARKER!r} is reserved for directory markers")
        bucket = self.location.bucket
        if bucket is None:
            if not parts:
                raise NotSupported("this connection names no bucket: address one, as s3+label://BUCKET/path")
            bucket, parts = parts[0], parts[1:]
            if not _BUCKET.fullmatch(bucket):
                raise NotFound(f"bucket {bucket!r} does not exist")
        prefix = [self.location.prefix] if self.location.prefix else []
        return _Spot(bucket, "/".join(prefix + parts), root=not parts)

    def _fail(self, exc: BaseException, spot: _Spot, key: str | None = None) -> HeadwaterError:
        if isinstance(exc, HeadwaterError):
            return exc
        refused = self._route.failure()  # the guard's own reason (a refused redirect, say) comes first
        if refused is not None:
            return refused
        return translate(exc, self.location.host, spot.bucket, key if key is not None else (spot.key or None))

    @contextlib.contextmanager
    def _translating(self, spot: _Spot, key: str | None = None) -> Iterator[None]:
        """Every backend failure inside becomes the hub's error for `spot` (the one translation, as
        `_fail` makes it); the hub's own errors pass through."""
        try:
            yield
        except HeadwaterError:
            raise
        except Exception as exc:
            raise self._fail(exc, spot, key) from None

    def _entry(self, name: str, meta: Mapping[str, Any]) -> Entry:
        return Entry(name=name, is_dir=False, size=meta["size"], modified=meta["last_modified"], etag=meta.get("e_tag"))

    async def _head(self, spot: _Spot) -> Mapping[str, Any] | None:
        """The object at `spot`, or None when there is none."""
        store = await self._store(spot.bucket)
        try:
            with self._translating(spot):
                try:
                    return await obs.head_async(store, spot.key)
                except FileNotFoundError as exc:
                    if s3_code(exc) == "NoSuchBucket":
                        raise
                    return None
        except UpstreamPermissionDenied as refusal:
            raise await self._explain_refusal(refusal, spot) from None

    async def _explain_refusal(self, error: HeadwaterError, spot: _Spot) -> HeadwaterError:
        """A bare 403 (a HEAD has no body to name its cause) becomes "bad credentials" when a listing says so.

        One extra request, on refusals only, so a wrong secret reads as `sources test` reports it.
        """
        if not isinstance(error, UpstreamPermissionDenied):
            return error
        try:
            await self._has_children(spot, probe=True)
        except UpstreamAuthFailed as auth:
            return auth
        except HeadwaterError:
            pass
        return error

    async def _has_children(self, spot: _Spot, *, probe: bool = False) -> bool:
        store = await self._store(spot.bucket, probe=probe)
        with self._translating(spot, ""):
            async for chunk in obs.list(store, spot.key or None, chunk_size=1):
                # `dir/` markers of other tools come back as the folder's own path: they count too.
                if any(meta["path"].startswith(spot.lead) or meta["path"] == spot.key for meta in chunk):
                    return True
        return False

    # -- the interface

    async def check(self, *, write: bool = False) -> None:
        """List the root (and with `write`, put and delete a probe object there), with short timeouts."""
        bucket = self.location.bucket
        if bucket is None:
            # No bucket to probe, so none to write to: ask for one that cannot exist. "No such
            # bucket" proves the endpoint answers and accepts the keys; anything else is the failure.
            try:
                await self._has_children(_Spot(f"headwater-check-{uuid.uuid4().hex[:16]}", "", True), probe=True)
            except NotFound:
                pass
            return
        spot = self._spot("")
        await self._has_children(spot, probe=True)
        if not write:
            return
        store = await self._store(bucket, probe=True)
        key = spot.lead + PROBE_PREFIX + uuid.uuid4().hex
        steps: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
            ("write to", lambda: obs.put_async(store, key, b"", use_multipart=False)),
            ("delete from", lambda: obs.delete_async(store, key)),
        ]
        for action, step in steps:  # one after the other: obstore starts a request as soon as it is called
            try:
                with self._translating(spot, key):
                    await step()
            except UpstreamPermissionDenied:
                raise UpstreamPermissionDenied(
                    f"the credentials can read bucket {bucket!r} but not {action} it, and the source is read-write"
                ) from None

    def _lists_buckets(self, path: str) -> bool:
        """Whether `path` is the root of a connection that names no bucket: a folder of buckets."""
        return self.location.bucket is None and not path

    async def stat(self, path: str) -> Entry:
        if self._lists_buckets(path):
            return Entry(name="", is_dir=True)
        spot = self._spot(path)
        name = path.rsplit("/", 1)[-1]
        if spot.root:
            await self._has_children(spot)  # proves the bucket exists
            return Entry(name=name, is_dir=True)
        meta = await self._head(spot)
        if meta is not None:
            return self._entry(name, meta)
        if await self._has_children(spot):
            return Entry(name=name, is_dir=True)
        raise NotFound(f"{path!r} does not exist")

    async def open_read(
        self, path: str, span: Span | None = None, *, options: Mapping[str, str] | None = None
    ) -> Opened:
        """One GET: the object's size, ETag and modification time come with its bytes (a ranged GET's
        `Content-Range` gives the whole size). Only a missing key costs a listing, to tell a folder."""
        if self._lists_buckets(path):
            raise NotAFile("the root of this connection is its list of buckets")
        spot = self._spot(path)
        if spot.root:
            raise NotAFile(f"{path or '/'!r} is a directory")
        get_options: dict[str, Any] = {}
        if span is not None:
            if span.suffix == 0 or (span.end is not None and span.end <= span.start):
                raise await self._unsatisfiable(spot, span)
            if span.suffix is not None:
                get_options["range"] = {"suffix": span.suffix}
            elif span.end is not None:
                get_options["range"] = (span.start, span.end)
            else:
                get_options["range"] = {"offset": span.start}
        store = await self._store(spot.bucket)
        with self._translating(spot):
            try:
                result = await obs.get_async(store, spot.key, options=get_options)  # type: ignore[arg-type]
            except FileNotFoundError as exc:
                if s3_code(exc) != "NoSuchBucket" and await self._has_children(spot):
                    raise NotAFile(f"{path!r} is a directory") from None
                raise
            except Exception as exc:
                if span is not None and (s3_code(exc) == "InvalidRange" or http_status(exc) == 416):
                    raise await self._unsatisfiable(spot, span) from None
                raise
        entry = self._entry(path.rsplit("/", 1)[-1], result.meta)
        served = (int(result.range[0]), int(result.range[1])) if span is not None else None
        return Opened(entry, served, self._body(result, spot))

    async def _unsatisfiable(self, spot: _Spot, span: Span) -> HeadwaterError:
        """The refusal of a range that selects nothing, with the object's size (asked for only in this case)."""
        meta = await self._head(spot)
        if meta is None:
            return NotFound(f"{spot.key!r} does not exist in bucket {spot.bucket!r}")
        return RangeNotSatisfiable(
            f"range {span.header!r} is outside the file's {meta['size']} bytes", int(meta["size"])
        )

    async def _body(self, result: Any, spot: _Spot) -> AsyncIterator[bytes]:
        """The object's bytes as views of obstore's buffers: the server writes them to the socket uncopied."""
        with self._translating(spot):
            async for chunk in result.stream(min_chunk_size=self.chunk_size):
                yield memoryview(chunk)  # type: ignore[misc]

    async def read(
        self, path: str, start: int | None = None, end: int | None = None, *, options: Mapping[str, str] | None = None
    ) -> AsyncIterator[bytes]:
        spot = self._spot(path)
        if spot.root:
            raise InvalidInput(f"{path or '/'!r} is a directory")
        if start is not None and end is not None and end <= start:
            return
        wanted: GetOptions = {}
        if end is not None:
            wanted["range"] = (start or 0, end)
        elif start:
            wanted["range"] = {"offset": start}
        store = await self._store(spot.bucket)
        with self._translating(spot):
            try:
                result = await obs.get_async(store, spot.key, options=wanted)
            except FileNotFoundError as exc:
                if s3_code(exc) != "NoSuchBucket" and await self._has_children(spot):
                    raise InvalidInput(f"{path!r} is a directory") from None
                raise
            async for chunk in result.stream(min_chunk_size=self.chunk_size):
                yield bytes(chunk)

    async def write(self, path: str, chunks: AsyncIterable[bytes], size_hint: int | None = None) -> Entry:
        spot = self._spot(path)
        if spot.root:
            raise InvalidInput("cannot write to the root of a connection or bucket: give a file name")
        if await self._has_children(spot):
            raise Conflict(f"{path!r} is a directory")
        part_size = self.location.profile.part_size(size_hint)
        store = await self._store(spot.bucket)
        writer = obs.open_writer_async(
            store, spot.key, buffer_size=part_size, max_concurrency=self.location.profile.upload_concurrency
        )
        pending: list[bytes] = []  # the request's pieces, joined once (one copy) per chunk handed on
        held = 0
        try:
            async for chunk in chunks:
                pending.append(chunk)
                held += len(chunk)
                if held >= self.chunk_size:
                    await self._put(writer, b"".join(pending), spot)
                    pending.clear()
                    held = 0
            if pending:
                await self._put(writer, b"".join(pending), spot)
            with self._translating(spot):
                await writer.close()
        except BaseException as exc:
            with anyio.CancelScope(shield=True):
                # Parts still in flight first: one that lands after the abort would leave the upload behind.
                with anyio.move_on_after(ABORT_DRAIN_SECONDS), contextlib.suppress(Exception):
                    await writer.flush()
                try:
                    await writer.__aexit__(type(exc), exc, exc.__traceback__)  # aborts the multipart upload
                except Exception:
                    pass  # already closed, or the abort itself failed: nothing was committed either way
            raise
        return await self.stat(path)

    async def copy(self, source: str, path: str, size: int | None = None) -> Entry | None:
        """One CopyObject inside the bucket: the backend copies the bytes (and the object's metadata).

        None (stream it) across buckets (obstore copies within one store), onto itself (S3 refuses
        a copy that changes nothing) and above `MAX_COPY` bytes (one request's limit)."""
        if self._lists_buckets(source) or self._lists_buckets(path):
            return None
        origin, spot = self._spot(source), self._spot(path)
        if spot.root:
            raise InvalidInput("cannot write to the root of a connection or bucket: give a file name")
        if origin.root or origin.bucket != spot.bucket or origin.key == spot.key:
            return None
        if size is None:
            meta = await self._head(origin)
            if meta is None:
                raise NotFound(f"{source!r} does not exist")
            size = int(meta["size"])
        if size > MAX_COPY:
            return None
        if await self._has_children(spot):
            raise Conflict(f"{path!r} is a directory")
        store = await self._store(spot.bucket)
        with self._translating(origin):
            await obs.copy_async(store, origin.key, spot.key)
        return await self.stat(path)

    async def _put(self, writer: Any, data: bytes, spot: _Spot) -> None:
        with self._translating(spot):
            await writer.write(data)

    async def delete(self, path: str) -> None:
        spot = self._spot(path)
        if spot.root:
            raise InvalidInput(f"{path or '/'!r} is a directory: delete it as a directory")
        if await self._head(spot) is None:
            if await self._has_children(spot):
                raise InvalidInput(f"{path!r} is a directory: delete it as a directory")
            raise NotFound(f"{path!r} does not exist")
        store = await self._store(spot.bucket)
        with self._translating(spot):
            await obs.delete_async(store, spot.key)

    async def list(self, path: str, marker: str | None = None, limit: int = PAGE_SIZE) -> Listing:
        folders: list[Entry] = []
        files: list[Entry] = []
        next_marker: str | None = None
        pieces = self.list_root(None, marker, limit) if self._lists_buckets(path) else self.scan(path, marker, limit)
        async for piece in pieces:
            folders += piece.folders
            files += piece.files
            next_marker = piece.marker
        return Listing(sorted(folders, key=lambda e: e.name), files, next_marker)

    async def scan(self, path: str, marker: str | None = None, limit: int = PAGE_SIZE) -> AsyncIterator[Listing]:
        """One page in pieces of up to one listing request each, while the next request is already on its way."""
        if limit < 1:
            raise InvalidInput("limit must be at least 1")
        if self._lists_buckets(path):
            async for piece in self.list_root(None, marker, limit):
                yield piece
            return
        spot = self._spot(path)
        after = decode_marker(marker)
        taken = 0
        children = self._children(spot, after, lambda: taken < limit)  # the lookahead entry needs no request after it
        try:
            held: Found | None = None  # the piece that filled the page, until the next one shows whether more follow
            async for found in children:
                if held is not None:
                    yield self._page_end(spot, held, found)
                    return
                room = limit - taken
                if len(found) > room:
                    yield self._page_end(spot, found[:room], found[room:])
                    return
                taken += len(found)
                if taken == limit:
                    held = found
                else:
                    yield self._piece(found, None)
            if held is not None:
                yield self._piece(held, None)
                return
            if taken == 0:
                if after is None and not spot.root:
                    await self._missing_folder(spot, path)
                yield self._piece([], None)
        finally:
            await children.aclose()

    def _page_end(self, spot: _Spot, last: Found, beyond: Found) -> Listing:
        """The last piece of a full page, whose marker is its last entry's position. The entries listed
        beyond it are kept briefly: the next page's request starts with them instead of asking again."""
        position = last[-1][1]
        now = time.monotonic()
        kept = self._continuations
        kept[(spot.bucket, spot.key, position)] = (now + CONTINUATION_SECONDS, beyond)
        kept.move_to_end((spot.bucket, spot.key, position))
        while len(kept) > CONTINUATIONS_KEPT or (kept and next(iter(kept.values()))[0] < now):
            kept.popitem(last=False)
        return self._piece(last, encode_marker(position))

    def _continuation(self, spot: _Spot, after: str | None) -> Found | None:
        """The entries a previous page listed after `after`, if it was that page's end and not long ago."""
        if after is None:
            return None
        kept = self._continuations.pop((spot.bucket, spot.key, after), None)
        if kept is None or kept[0] < time.monotonic():
            return None
        return kept[1]

    @staticmethod
    def _piece(found: Found, marker: str | None) -> Listing:
        return Listing([e for e, _ in found if e.is_dir], [e for e, _ in found if not e.is_dir], marker)

    async def _missing_folder(self, spot: _Spot, path: str) -> None:
        """Nothing listed below `spot`: fine for an empty folder, else the reason there is no folder."""
        if await self._has_children(spot):
            return
        if await self._head(spot) is not None:
            raise InvalidInput(f"{path!r} is a file, not a directory")
        raise NotFound(f"{path!r} does not exist")

    async def list_root(
        self, named: Sequence[str] | None, marker: str | None = None, limit: int = PAGE_SIZE
    ) -> AsyncIterator[Listing]:
        """With a bucket, the bucket's root. Without one, the buckets: those the path restrictions name,
        or else those ListBuckets gives (filtered by the restrictions by the caller)."""
        if not self._lists_buckets(""):
            async for piece in self.scan("", marker, limit):
                yield piece
            return
        names = sorted({n for n in named if _BUCKET.fullmatch(n)}) if named is not None else await self._bucket_names()
        after = decode_marker(marker)
        if after is not None:
            names = [n for n in names if n > after]
        page = names[:limit]
        yield Listing(
            [Entry(name=n, is_dir=True) for n in page], [], encode_marker(page[-1]) if len(names) > limit else None
        )

    async def _bucket_names(self) -> builtins.list[str]:
        """ListBuckets at the endpoint, signed with the connection's secret, through its guarded route."""
        location = self.location
        try:
            return await s3_service.list_buckets(
                location.endpoint,
                location.region,
                self.credentials,
                proxy=self._route.url,
                timeout=self.timeouts.check * 6,
            )
        except s3_service.ServiceAnswer as exc:
            refused = self._route.failure()
            if refused is not None:
                raise refused from None
            error = translate(exc, location.host, "")
            if type(error) is UpstreamPermissionDenied or isinstance(error, NotFound):
                raise UpstreamPermissionDenied(
                    f"the credentials may not list the buckets of {location.host} ({exc.code or exc.status}): "
                    "name the buckets in the connection's path restrictions (bucket/*), or set params.bucket"
                ) from None
            raise error from None
        except httpx.HTTPError as exc:
            refused = self._route.failure()
            if refused is not None:
                raise refused from None
            raise classify_transport_error(exc, location.endpoint) from None

    async def _children(
        self, spot: _Spot, after: str | None, wanted: Callable[[], bool] = lambda: True
    ) -> AsyncGenerator[Found, None]:
        """The children of `spot` after the position `after`, in key order, a listing request at a time,
        each with the position to resume after it. The next request is sent ahead while `wanted()`.

        Streams the flat key listing and groups it by the next `/` itself, so memory stays
        bounded by a few listing requests however large the folder. A folder with more keys
        than one request holds is skipped by restarting the listing past it.
        """
        store = await self._store(spot.bucket)
        lead = spot.lead
        ready = self._continuation(spot, after)
        if ready:
            after = ready[-1][1]
        offset = lead + after if after else None
        while True:
            restart: str | None = None
            current: str | None = None
            skipped = 0
            chunks = Ahead(obs.list(store, spot.key or None, offset=offset, chunk_size=LIST_CHUNK), wanted)
            try:
                with self._translating(spot, ""):
                    if (
                        ready
                    ):  # what the previous page looked ahead at, while the request for what follows is on its way
                        yield ready
                        ready = None
                    async for chunk in chunks:
                        found: Found = []
                        for meta in chunk:
                            full: str = meta["path"]
                            if not full.startswith(lead):
                                continue  # a folder marker of another tool, listed as the folder itself
                            name, sep, _ = full[len(lead) :].partition("/")
                            if not sep and name == FOLDER_MARKER:
                                continue
                            if not sep:
                                found.append((self._entry(name, meta), name))
                                current = None
                            elif name != current:
                                found.append((Entry(name=name, is_dir=True), name + "/" + PAST_FOLDER))
                                current, skipped = name, 0
                            else:
                                skipped += 1
                                if skipped >= LIST_CHUNK:
                                    restart = lead + name + "/" + PAST_FOLDER
                                    break
                        if found:
                            yield found
                        if restart is not None:
                            break
            finally:
                await chunks.aclose()
            if restart is None:
                return
            offset = restart

    async def mkdir(self, path: str) -> None:
        """Write the directory's marker, unless the name is taken (or a parent is a file)."""
        spot = self._spot(path)
        if spot.root:
            raise Conflict(f"{path or '/'!r} already exists")
        if await self._head(spot) is not None:
            raise Conflict(f"{path!r} is a file")
        if await self._has_children(spot):
            raise Conflict(f"{path!r} already exists")
        parents = path.split("/")[:-1]
        for depth in range(len(parents), 0, -1):
            parent = self._spot("/".join(parents[:depth]))
            if not parent.root and await self._head(parent) is not None:
                raise Conflict(f"a parent of {path!r} is a file")
        store = await self._store(spot.bucket)
        with self._translating(spot):
            await obs.put_async(store, spot.lead + FOLDER_MARKER, b"", use_multipart=False)

    async def rmdir(self, path: str, recursive: bool = False) -> int:
        spot = self._spot(path)
        if spot.root:
            raise InvalidInput("cannot remove the root of a connection or a bucket")
        store = await self._store(spot.bucket)
        first = await self._first_keys(store, spot, 2)
        if not first:
            if await self._head(spot) is not None:
                raise InvalidInput(f"{path!r} is a file, not a directory")
            raise NotFound(f"{path!r} does not exist")
        own_marker = spot.lead + FOLDER_MARKER
        if not recursive and first != [own_marker]:
            raise Conflict(f"directory {path!r} is not empty: delete it with force")
        deleted = 0
        previous: Keys = []
        with self._translating(spot):
            while True:  # list the first batch again each time: deleting never disturbs a listing in flight
                batch = await self._first_keys(store, spot, LIST_CHUNK)
                if not batch:
                    return deleted
                if batch == previous:
                    raise UpstreamError(f"{self.location.host} accepted deletes under {path!r} but kept the objects")
                previous = batch
                await obs.delete_async(store, batch)
                deleted += sum(1 for key in batch if key.rsplit("/", 1)[-1] != FOLDER_MARKER)

    async def _first_keys(self, store: S3Store, spot: _Spot, count: int) -> Keys:
        """Up to `count` keys below `spot` (one listing request)."""
        with self._translating(spot, ""):
            async for chunk in obs.list(store, spot.key, chunk_size=count):
                return [meta["path"] for meta in chunk if meta["path"].startswith(spot.lead)]
        return []

    # -- multipart uploads on the backend itself (the S3 front door's, passed straight through)

    async def _part_url(self, spot: _Spot) -> str:
        url, path_style = self.location.bucket_endpoint(spot.bucket)
        if urlsplit(url).netloc not in self._checked:
            await anyio.to_thread.run_sync(self._check_endpoint, spot.bucket)
        return s3_parts.object_url(url, path_style, spot.bucket, spot.key)

    def _parts_client(self) -> s3_parts.Multipart:
        if self._multipart is None:
            self._multipart = s3_parts.Multipart(
                self.location.region,
                self.credentials,
                proxy=self._route.url,
                connect_timeout=self.timeouts.connect,
                idle_timeout=self.timeouts.idle,
            )
        return self._multipart

    def _upload_spot(self, path: str, upload: PartsUpload) -> _Spot:
        """Where `path` resolves, which must be where the upload was begun (else the connection changed since)."""
        spot = self._spot(path)
        if (spot.bucket, spot.key) != (upload.bucket, upload.key):
            raise NoSuchUpload(f"the upload to {path!r} was begun where the connection no longer leads")
        return spot

    @contextlib.contextmanager
    def _translating_parts(self, spot: _Spot) -> Iterator[None]:
        """A backend failure of a multipart request becomes the hub's error (S3's multipart codes first, then
        `translate`); anything else (the client's body failing its checks, say) passes through as it is."""
        try:
            yield
        except s3_service.ServiceAnswer as exc:
            refused = self._route.failure()
            if refused is not None:
                raise refused from None
            refusal = MULTIPART_CODES.get(exc.code or "")
            if refusal is not None:
                kind, what = refusal
                raise kind(f"{what} ({spot.key!r} in bucket {spot.bucket!r})") from None
            raise translate(exc, self.location.host, spot.bucket, spot.key) from None
        except httpx.HTTPError as exc:
            refused = self._route.failure()
            if refused is not None:
                raise refused from None
            raise classify_transport_error(exc, self.location.endpoint) from None

    async def begin_parts(self, path: str) -> PartsUpload:
        spot = self._spot(path)
        if spot.root:
            raise InvalidInput("cannot write to the root of a connection or bucket: give a file name")
        if await self._has_children(spot):
            raise Conflict(f"{path!r} is a directory")
        url = await self._part_url(spot)
        with self._translating_parts(spot):
            upload_id = await self._parts_client().create(url)
        return PartsUpload(spot.bucket, spot.key, upload_id)

    async def put_part(
        self,
        path: str,
        upload: PartsUpload,
        number: int,
        chunks: AsyncIterable[bytes],
        size: int,
        md5: str | None = None,
    ) -> UploadedPart:
        spot = self._upload_spot(path, upload)
        url = await self._part_url(spot)
        with self._translating_parts(spot):
            etag = await self._parts_client().upload_part(url, upload.upload_id, number, chunks, size, md5)
        return UploadedPart(number, etag, size, datetime.now(UTC))

    async def list_parts(self, path: str, upload: PartsUpload) -> builtins.list[UploadedPart]:
        spot = self._upload_spot(path, upload)
        url = await self._part_url(spot)
        with self._translating_parts(spot):
            listed = await self._parts_client().list_parts(url, upload.upload_id)
        return [UploadedPart(p.number, p.etag, p.size, p.modified) for p in listed]

    async def complete_parts(self, path: str, upload: PartsUpload, parts: Sequence[tuple[int, str]]) -> Entry:
        """CompleteMultipartUpload, then the object's entry as HeadObject gives it (its ETag is the one the
        backend shows from now on)."""
        spot = self._upload_spot(path, upload)
        url = await self._part_url(spot)
        with self._translating_parts(spot):
            await self._parts_client().complete(url, upload.upload_id, builtins.list(parts))
        return await self.stat(path)

    async def abort_parts(self, path: str, upload: PartsUpload) -> None:
        spot = self._upload_spot(path, upload)
        url = await self._part_url(spot)
        with self._translating_parts(spot):
            await self._parts_client().abort(url, upload.upload_id)

    async def close(self) -> None:
        self._stores.clear()
        if self._multipart is not None:
            multipart, self._multipart = self._multipart, None
            await multipart.close()


# ---------------------------------------------------------------------------------------------
# Kinds


def location_of(profile: Profile, params: Params) -> Location:
    """Resolve a source's validated params against its provider's profile."""
    if not isinstance(params, S3PresetParams):
        raise InvalidInput(f"params of a {profile.name} source must be validated by its kind's schema")
    region = profile.region_for(params.region)
    endpoint = profile.endpoint_for(params.endpoint, region)
    if endpoint is None:
        raise InvalidInput(f"a {profile.name} source needs an endpoint")
    return Location(profile, endpoint, region, params.bucket, params.prefix or "", params.path_style)


def _builder(profile: Profile) -> Callable[[Any, Credentials | None, BuildContext], Connector]:
    def build(params: S3PresetParams, credentials: Credentials | None, ctx: BuildContext) -> Connector:
        try:
            location = location_of(profile, params)
        except ValueError as exc:
            raise InvalidInput(f"params.region: {exc}") from None
        return S3Connector(
            location, credentials, allow_private_endpoints=ctx.allow_private_endpoints, chunk_size=ctx.chunk_size
        )

    return build


def _params_model(profile: Profile) -> type[S3PresetParams]:
    """The params schema of one profile: the region rule is checked when a source is validated."""
    base = S3Params if profile.endpoint is None else S3PresetParams

    class ProfileParams(base):  # type: ignore[valid-type, misc]
        @field_validator("region")
        @classmethod
        def _region(cls, value: str | None) -> str | None:
            profile.region_for(value)
            return value

    name = "".join(part.capitalize() for part in profile.name.split("-")) + "Params"
    ProfileParams.__name__ = ProfileParams.__qualname__ = name
    ProfileParams.__doc__ = profile.description
    return ProfileParams


def _kind(profile: Profile) -> Kind:
    return Kind(
        name=profile.name,
        title=profile.title,
        description=profile.description,
        params=_params_model(profile),
        capabilities=S3Connector.capabilities,
        build=_builder(profile),
        credentials="optional",
        secret_types=profile.secret_types,
    )


#: One kind per provider profile, each named in the `headwater.kinds` entry points.
S3 = _kind(PROFILES["s3"])
AWS = _kind(PROFILES["aws"])
GCP = _kind(PROFILES["gcp"])
STORJ = _kind(PROFILES["storj"])
