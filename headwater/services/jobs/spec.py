"""The shapes shared by every part of a job: states, partition specs, the job's narrowed identity."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    NEW = "new"
    READY = "ready"
    PARTITIONING = "partitioning"
    RUNNING = "running"
    ASSEMBLING = "assembling"
    COMPLETE = "complete"
    FAILED = "failed"
    CANCELED = "canceled"


class PartState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELED = "canceled"


#: States a driver is responsible for: a hub that starts resumes jobs in these.
ACTIVE = frozenset({JobState.READY, JobState.PARTITIONING, JobState.RUNNING, JobState.ASSEMBLING})
TERMINAL = frozenset({JobState.COMPLETE, JobState.FAILED, JobState.CANCELED})
#: Where a job's staged partition outputs live under the hub's data dir (concatenate, zip).
STAGING = "jobs"


@dataclass(frozen=True)
class PartitionSpec:
    """What one partition reads: a whole object, a byte range, or a row range.

    `path` is relative to the source connection's root. A byte range is [start, end).
    `header` is a byte range of the same object prepended to the input (a CSV header
    for row partitions planned from byte offsets). `rows` is [first, stop) for kinds that
    serve row ranges themselves (databases, synthetic data, Parquet row groups).
    """

    path: str
    size: int | None = None
    start: int | None = None
    end: int | None = None
    header: tuple[int, int] | None = None
    rows: tuple[int, int] | None = None
    row_groups: tuple[int, ...] | None = None
    format: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> PartitionSpec:
        fields = dict(raw)
        for name in ("header", "rows", "row_groups"):
            if fields.get(name) is not None:
                fields[name] = tuple(fields[name])
        return cls(**fields)

    @property
    def expected_size(self) -> int | None:
        """The bytes this partition reads, when known without reading them."""
        if self.rows is not None or self.row_groups is not None:
            return None
        if self.start is not None or self.end is not None:
            if self.end is None:
                return None
            body = self.end - (self.start or 0)
        elif self.size is not None:
            body = self.size
        else:
            return None
        if self.header is not None:
            body += self.header[1] - self.header[0]
        return body


@dataclass(frozen=True)
class Planned:
    """A planned partition: what it reads and the fixed name (relative to the destination) it writes."""

    spec: PartitionSpec
    output: str


@dataclass(frozen=True)
class JobIdentity:
    """Who a job acts as: the creator's organization and user, narrowed per side. Ids only, no token value."""

    org_id: str
    org_name: str
    user_id: str
    user_name: str
    token_id: str
    source_prefix: str
    destination_prefix: str
    source_ids: tuple[str, ...] = field(default_factory=tuple)
    source_id: str | None = None
    destination_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["source_ids"] = list(self.source_ids)
        return data

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> JobIdentity:
        fields = dict(raw)
        fields["source_ids"] = tuple(fields.get("source_ids") or ())
        return cls(**fields)
