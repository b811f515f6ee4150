"""SQLAlchemy models of everything the hub remembers about organizations, secrets and sources.

Secret values live only in `Secret.ciphertext`, encrypted by `headwater.vault`.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and always read back timezone-aware, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    pass


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class User(Base):
    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_users_org_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Token(Base):
    """An API key, stored only as its SHA-256 hash; optionally narrowed for handing to a job."""

    __tablename__ = "tokens"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    read_only: Mapped[bool] = mapped_column(Boolean, default=False)
    source_ids: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    path_prefix: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class AccessKey(Base):
    """An S3 access key: an id and a secret sealed by the vault (SigV4 needs the secret itself), acting as
    its child token `token_id`, which carries the narrowing; revoking the key revokes the token."""

    __tablename__ = "access_keys"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_id: Mapped[str] = mapped_column(ForeignKey("tokens.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class Secret(Base):
    """A typed bundle of credentials; `ciphertext` holds the encrypted write-only values."""

    __tablename__ = "secrets"
    __table_args__ = (UniqueConstraint("org_id", "secret_id", name="uq_secrets_org_id"),)

    uid: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    secret_id: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    secret_type: Mapped[str] = mapped_column(String(32))
    access_key: Mapped[str | None] = mapped_column(String(1024), nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    value_keys: Mapped[list[str]] = mapped_column(JSON, default=list)
    ciphertext: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)


class Source(Base):
    """A labelled connection: kind, params, secret references, restrictions, access and state."""

    __tablename__ = "sources"
    __table_args__ = (UniqueConstraint("org_id", "protocol", "label", name="uq_sources_org_protocol_label"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    protocol: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(63))
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str] = mapped_column(Text, default="")
    entity_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    env_secret_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    path_restrictions: Mapped[list[str]] = mapped_column(JSON, default=list)
    access: Mapped[str] = mapped_column(String(16), default="read")
    state_code: Mapped[str] = mapped_column(String(8), default="001")
    state_reason: Mapped[str] = mapped_column(Text, default="Requires configuration.")
    healthy: Mapped[bool] = mapped_column(Boolean, default=False)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    latency_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)


class OrgStamp(Base):
    """Per-organization change counters, bumped in the transaction of every change (`store.stamps`).

    `auth` counts changes to tokens and users, `data` to sources and secrets: one primary-key
    read tells every process whether what it cached for the organization is still current.
    """

    __tablename__ = "org_stamps"

    org_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    auth: Mapped[int] = mapped_column(BigInteger, default=0)
    data: Mapped[int] = mapped_column(BigInteger, default=0)


class HubKey(Base):
    """A key every replica of the hub shares (link signing, audit HMAC), sealed under the master key
    (`headwater.services.hub_keys`): created once by whichever replica needs it first, then only read."""

    __tablename__ = "hub_keys"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class DutyLease(Base):
    """Which replica runs a background duty (a retention purge) until `expires_at` (`store.duties`)."""

    __tablename__ = "duty_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class System(Base):
    """A data system: a grouping entity that data sources link under."""

    __tablename__ = "systems"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_systems_org_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    label: Mapped[str] = mapped_column(String(63), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    entity_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    owner_person: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class SystemLink(Base):
    """A source linked under a system (parent → child)."""

    __tablename__ = "system_links"

    system_id: Mapped[str] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"), primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class Collection(Base):
    """A hosted `data://org/collection` with its read ACL (the Algorithmia collection model)."""

    __tablename__ = "collections"
    __table_args__ = (UniqueConstraint("org_id", "name", name="uq_collections_org_name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    acl_read: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["algo://.my/*"])
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class AuditEvent(Base):
    """One audited operation: who, on what, what happened. Never a secret or a token value."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(36), index=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)
    org_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    user_name: Mapped[str | None] = mapped_column(String(255), nullable=True)
    token_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    token_hmac: Mapped[str | None] = mapped_column(String(64), nullable=True)
    method: Mapped[str] = mapped_column(String(10))
    route: Mapped[str] = mapped_column(String(255))
    operation: Mapped[str] = mapped_column(String(64), index=True)
    source_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    connection: Mapped[str | None] = mapped_column(String(100), nullable=True)
    path: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    client: Mapped[str | None] = mapped_column(String(100), nullable=True)


class Job(Base):
    """A job: a data source → an app over partitions → a data destination, with its state and lease."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str] = mapped_column(String(36))
    token_id: Mapped[str] = mapped_column(String(36))
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[str] = mapped_column(String(16), default="new", index=True)
    state_timestamps: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source: Mapped[str] = mapped_column(Text)
    destination: Mapped[str] = mapped_column(Text)
    source_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    caller: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    app: Mapped[str] = mapped_column(String(64))
    app_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    partitioner: Mapped[str] = mapped_column(String(32))
    partitioner_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    assembler: Mapped[str] = mapped_column(String(32))
    assembler_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outputs: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    settled_at: Mapped[datetime | None] = mapped_column(
        UTCDateTime, nullable=True
    )  # nothing runs, nothing partial stays
    generation: Mapped[int] = mapped_column(Integer, default=0)
    driver_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)
    #: The template the job was made from (a built-in app's name or one of the organization's templates).
    template_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    #: The `dataSource`/`dataDestination` objects as the caller sent them (`{"in": ..., "out": ...}`), shown back verbatim.
    sent_objects: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)


class JobTemplate(Base):
    """An organization's job template: an app with fixed params, a partitioner and an assembler, under an id it chose."""

    __tablename__ = "job_templates"

    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    app: Mapped[str] = mapped_column(String(64))
    app_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    partitioner: Mapped[str] = mapped_column(String(32))
    partitioner_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    assembler: Mapped[str] = mapped_column(String(32))
    assembler_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_by: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)


class JobPartition(Base):
    """One partition of a job: what it reads, the fixed name it writes, and its status (the truth of progress)."""

    __tablename__ = "job_partitions"

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    output: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    bytes_in: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_out: Mapped[int] = mapped_column(BigInteger, default=0)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class JobLog(Base):
    """One line of a job's log: state changes, retries, failures. Never a credential."""

    __tablename__ = "job_logs"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    level: Mapped[str] = mapped_column(String(8), default="info")
    partition: Mapped[int | None] = mapped_column(Integer, nullable=True)
    message: Mapped[str] = mapped_column(Text)
