"""A job's own data sources, made from ByteNite-style `dataSource` objects, and deleted with the job.

A job's source or destination may be a `dataSource` object (`{"dataSourceDescriptor",
"params"}`) instead of a native address. It becomes a data source of the caller's
organization, created through `services.sources.create` (the same rules as
`POST /v1/sources`: a writer's token, admin-only kinds, existing secrets), labelled
`job-<first 12 hex digits of the job id>-in` or `-out` (a random suffix when that is
taken), with `entity_info.owner` = `job <id>` marking it as the job's. The kind comes
from `ephemeral.translate_object` (the mapping the ByteNite compat routes use):

    aws, s3, gcp, storj   bucketName → bucket, cloudRegion → region, endpoint, secret_id → secretId;
                          name → the path: a source's file (or folder, or glob), a destination's folder
    url                   url → the `url` kind, the path is the URL's file name (input only)
    file                  uploadId (+ filename) → an existing upload; without one, a new upload the
                          job waits for (ByteNite's tempUrl flow, when the caller allows it) (input only)
    bucket                a temporary bucket (output only)
    bypass                no data

Sources get access `read`, destinations `read-write`. Each is checked for real when
made, as a source test does (a destination with a write probe: read-only credentials
are refused at create, not at run), except an upload still to come. The job then uses
the source's address, so every rights check of a native address applies unchanged. A
token narrowed to some data sources cannot make one (it could not see it). Whatever
was made is removed again when the job is not stored.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio

from headwater.addresses import Address, parse_address
from headwater.connectors import catalogue
from headwater.connectors.base import Connector
from headwater.connectors.hosted_kinds import Upload, check_filename
from headwater.errors import Conflict, HeadwaterError, InvalidInput, NotFound
from headwater.services import authorization, ephemeral, states
from headwater.services import sources as sources_service
from headwater.services import uploads as uploads_service
from headwater.services.context import Caller
from headwater.services.hub import Hub
from headwater.services.jobs.spec import JobIdentity
from headwater.store.models import Job, Source, now

IN, OUT = "in", "out"
FIELDS = {IN: "dataSource", OUT: "dataDestination"}
DEFAULT_UPLOAD_NAME = "upload"


@dataclass(frozen=True)
class DataSourceObject:
    """A ByteNite `dataSource` object: a descriptor and its params; `sent` is the object as the caller wrote it."""

    descriptor: str
    params: dict[str, Any] = field(default_factory=dict)
    sent: dict[str, Any] | None = None

    def as_sent(self) -> dict[str, Any]:
        """The object to show back: exactly what the caller sent (the hub normalises only internally)."""
        if self.sent is not None:
            return self.sent
        return {"dataSourceDescriptor": self.descriptor, **({"params": self.params} if self.params else {})}


def sent_objects(
    previous: dict[str, Any] | None, source: Endpoint | None, destination: Endpoint | None
) -> dict[str, Any] | None:
    """A job's objects as sent, after setting `source` and/or `destination` (None: unchanged; an address: none shown)."""
    shown = dict(previous or {})
    for side, given in ((IN, source), (OUT, destination)):
        if isinstance(given, DataSourceObject):
            shown[side] = given.as_sent()
        elif given is not None:
            shown.pop(side, None)
    return shown or None


#: What a job request gives for a side: a native address, or an object to make a data source from.
Endpoint = str | DataSourceObject


@dataclass
class Made:
    """The addresses a job uses, and what was created for them (removed again if the job is not stored)."""

    source: str = ""
    destination: str = ""
    source_ids: list[str] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)


def short_id(job_id: str) -> str:
    return job_id.replace("-", "")[:12]


def owner_of(job_id: str) -> str:
    """`entity_info.owner` of the data sources a job made."""
    return f"job {job_id}"


def owned_by(source: Source, job_id: str) -> bool:
    return (source.entity_info or {}).get("owner") == owner_of(job_id)


def _basename(name: Any) -> str | None:
    if not isinstance(name, str) or not name.strip("/"):
        return None
    return PurePosixPath(name.rstrip("/")).name


def _url_path(url: str) -> str:
    """The path of a `url` source that names its URL: the file name, or the root for a folder."""
    path = urlsplit(url).path
    return "" if path.endswith("/") or not path else unquote(path.rsplit("/", 1)[-1])


def _file(
    hub: Hub, caller: Caller, params: dict[str, Any], allow_upload: bool, made: Made, side: str
) -> tuple[dict[str, Any], str, Upload | None]:
    """Params and path of a `file` source: an existing upload, or a new one the job waits for."""
    upload_id = params.pop("uploadId", None)
    given, path_name = params.pop("filename", None), params.pop("name", None)
    if given is not None and not isinstance(given, str):
        raise InvalidInput(f"{FIELDS[side]}.params.filename must be a string")
    name = given or _basename(path_name)
    if upload_id is not None:
        if not isinstance(upload_id, str):
            raise InvalidInput(f"{FIELDS[side]}.params.uploadId must be a string")
        if name is None:  # the upload's own file name (an id of another organization is not found)
            name = uploads_service.find(hub, caller.org_id, upload_id).filename
        return {"uploadId": upload_id, "filename": name, **params}, name, None
    if not allow_upload:
        raise InvalidInput(f"{FIELDS[side]}: a 'file' object needs params.uploadId (an upload made with /v1/uploads)")
    filename = check_filename(name or DEFAULT_UPLOAD_NAME)
    if params:
        raise InvalidInput(f"{FIELDS[side]}.params: unknown fields {', '.join(sorted(params))}")
    upload = uploads_service.open_pending(hub, caller, filename, "the input of a job")
    made.uploads.append(upload)
    return {"uploadId": upload.id, "filename": filename}, filename, upload


def _create_labelled(hub: Hub, caller: Caller, spec: sources_service.SourceSpec) -> Source:
    """Create the source under its reserved label, or that label with a random suffix if it is taken."""
    base = spec.label
    for attempt in range(3):
        spec.label = base if attempt == 0 else f"{base}-{secrets.token_hex(3)}"
        try:
            with hub.store.session() as session:
                return sources_service.create(session, caller, spec, data_dir=hub.settings.data_dir)
        except Conflict:
            continue
    raise Conflict(f"no free label for the data source of job {base}")


def _make(
    hub: Hub, caller: Caller, job_id: str, obj: DataSourceObject, side: str, allow_upload: bool, made: Made
) -> tuple[str, Source | None]:
    """Create the data source an object describes; return the address the job uses, and the source to probe."""
    what = FIELDS[side]
    try:
        translated = ephemeral.translate_object(obj.descriptor, obj.params)
    except InvalidInput as exc:
        raise InvalidInput(f"{what}: {exc.message}") from None
    kind = translated.spec.protocol
    authorization.may_connect(caller, catalogue.get(kind))
    capabilities = catalogue.get(kind).capabilities
    if side == IN and not capabilities.input:
        raise InvalidInput(
            f"{what}: dataSourceDescriptor {obj.descriptor!r} is output-only: it cannot be a data source"
        )
    if side == OUT and not capabilities.output:
        raise InvalidInput(
            f"{what}: dataSourceDescriptor {obj.descriptor!r} is input-only: it cannot be a data destination"
        )
    params, path, upload = dict(translated.spec.params), translated.path, None
    if kind == "file":
        params, path, upload = _file(hub, caller, params, allow_upload, made, side)
    elif kind == "url":
        path = _url_path(str(params.get("url", "")))
    path = path.lstrip("/")
    if side == OUT and path and not path.endswith("/"):
        path += "/"  # a destination's name is its output folder
    spec = sources_service.SourceSpec(
        protocol=kind,
        label=f"job-{short_id(job_id)}-{side}",
        name=f"{what} of job {job_id}",
        description=f"Made by job {job_id} from its {what} object; deleted with the job.",
        entity_info={"owner": owner_of(job_id)},
        params=params,
        secret_id=translated.spec.secret_id,
        access="read" if side == IN else "read-write",
    )
    source = _create_labelled(hub, caller, spec)
    made.source_ids.append(source.id)
    if upload is not None:
        uploads_service.attach(hub, upload, source)
    return f"{kind}+{source.label}://{path}", None if upload is not None else source


async def _probe(hub: Hub, source: Source, side: str) -> None:
    """Check a data source just made from an object for real (a destination with a write probe), as a source test does."""

    def build() -> Connector:
        with hub.store.session() as session:
            return sources_service.connector_for(session, hub, source)

    connector = await anyio.to_thread.run_sync(build)
    try:
        latency = await sources_service.run_check(connector, write=side == OUT)
    except HeadwaterError as exc:
        exc.message = f"{FIELDS[side]}: {exc.message}"
        raise

    def record() -> None:
        with hub.store.session() as session:
            row = session.get(Source, source.id)
            if row is not None:
                healthy = states.healthy()
                row.state_code, row.state_reason, row.healthy = healthy.code, healthy.reason, healthy.healthy
                row.checked_at, row.latency_ms = now(), latency

    await anyio.to_thread.run_sync(record)


async def resolve(
    hub: Hub, caller: Caller, job_id: str, source: Endpoint, destination: Endpoint, *, allow_upload: bool = False
) -> Made:
    """The addresses of a job's two sides, creating the data sources its objects describe."""
    made = Made()
    try:
        for side, given in ((IN, source), (OUT, destination)):
            if isinstance(given, DataSourceObject):
                address, made_source = await anyio.to_thread.run_sync(
                    _make, hub, caller, job_id, given, side, allow_upload, made
                )
                if made_source is not None:
                    await _probe(hub, made_source, side)
            else:
                address = given
            if side == IN:
                made.source = address
            else:
                made.destination = address
    except BaseException:
        with anyio.CancelScope(shield=True):
            await discard(hub, caller, made)
        raise
    return made


def _discard(hub: Hub, caller: Caller, made: Made) -> None:
    for source_id in made.source_ids:
        with hub.store.session() as session:
            try:
                sources_service.delete(session, caller, source_id)
            except NotFound:
                pass
    for upload in made.uploads:
        uploads_service.discard(hub, upload)


async def discard(hub: Hub, caller: Caller, made: Made) -> None:
    """Remove what `resolve` created, when the job it was for is not stored."""
    await anyio.to_thread.run_sync(_discard, hub, caller, made)


def release(
    hub: Hub, caller: Caller, job_id: str, source_ids: list[str | None], keep: tuple[str | None, ...] = ()
) -> None:
    """Delete the data sources among `source_ids` the job made (and their pending uploads), except `keep`."""
    for source_id in dict.fromkeys(source_ids):
        if not source_id or source_id in keep:
            continue
        with hub.store.session() as session:
            try:
                source = sources_service.get(session, caller, source_id)
            except NotFound:
                continue
            if not owned_by(source, job_id):
                continue
            upload_id = (source.params or {}).get("uploadId") if source.protocol == "file" else None
            sources_service.delete(session, caller, source_id)
        if isinstance(upload_id, str):
            try:
                upload = uploads_service.find(hub, caller.org_id, upload_id)
            except NotFound:
                continue
            if upload.source_id == source_id:
                uploads_service.discard(hub, upload)


# -- a job waiting for its uploaded input -----------------------------------------------------


@dataclass(frozen=True)
class Waiting:
    """The upload a job's own `file` source reads, and that source."""

    upload: Upload
    source: Source


def waiting_upload(hub: Hub, job: Job) -> Waiting | None:
    """The upload a job made for its input, if its source is one (complete or not)."""
    identity = JobIdentity.from_json(job.caller)
    if not identity.source_id:
        return None
    with hub.store.session() as session:
        source = session.get(Source, identity.source_id)
        if source is None or source.protocol != "file" or not owned_by(source, job.id):
            return None
        upload_id = (source.params or {}).get("uploadId")
    try:
        upload = uploads_service.find(hub, job.org_id, str(upload_id))
    except NotFound:
        return None
    return Waiting(upload, source) if upload.source_id == source.id else None


def check_ready(hub: Hub, job: Job) -> None:
    """Refuse to run a job whose input is an upload not yet completed."""
    waiting = waiting_upload(hub, job)
    if waiting is not None and waiting.upload.state != "complete":
        raise Conflict(
            f"job {job.id} waits for its input file: PUT it to the dataSource's tempUrl, then send uploadcompleted"
        )


def complete_upload(hub: Hub, job: Job) -> int:
    """Mark the job's input upload complete (once its bytes arrived); return its size."""
    waiting = waiting_upload(hub, job)
    if waiting is None:
        raise InvalidInput(f"job {job.id} has no uploaded input: its dataSource is not a 'file' object")
    upload = waiting.upload
    if upload.state == "open":
        raise InvalidInput(f"nothing was uploaded for job {job.id}: PUT the file to the dataSource's tempUrl first")
    uploads_service.mark_complete(hub, upload)
    return upload.size or 0


def input_link(hub: Hub, job: Job) -> str | None:
    """The hub-relative signed PUT link of a job's input upload, while the job still waits for its bytes."""
    waiting = waiting_upload(hub, job)
    if waiting is None or waiting.upload.state == "complete":
        return None
    return uploads_service.put_link(hub, waiting.upload)


def side_source(hub: Hub, job: Job, side: str) -> Source | None:
    """The data source behind one side of a job (None for hosted data)."""
    identity = JobIdentity.from_json(job.caller)
    source_id = identity.source_id if side == IN else identity.destination_id
    if not source_id:
        return None
    with hub.store.session() as session:
        return session.get(Source, source_id)


def address_path(text: str) -> str:
    """The path of an address (with a trailing '/' for a folder), '' if it does not parse."""
    try:
        address: Address = parse_address(text)
    except HeadwaterError:
        return ""
    return address.path + ("/" if address.is_dir and address.path else "")
