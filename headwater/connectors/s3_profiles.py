"""Quirk profiles of the S3 family: one row of data per provider, no provider branches in code.

A profile says where a provider lives (endpoint, region rules), how it wants to be
addressed (path style or virtual host), which optional protocol features it accepts
(checksums, bulk delete) and its multipart limits. `headwater.connectors.s3` reads
these fields; adding a provider is adding a row.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from headwater.errors import PayloadTooLarge

MiB = 1024 * 1024
GiB = 1024 * MiB
_REGION = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


@dataclass(frozen=True)
class Profile:
    """How one provider of the S3 API behaves."""

    name: str
    title: str
    description: str
    #: The endpoint when the source gives none; `{region}` is filled in. None: the source must give one.
    endpoint: str | None
    default_region: str
    #: True: the region is the provider's constant and any other value is refused.
    region_fixed: bool
    #: Path-style addressing (`endpoint/bucket/key`) unless the source says otherwise.
    path_style: bool
    #: Bucket names with dots break TLS on virtual hosts (`a.b.s3...` fails the wildcard certificate).
    dotted_buckets_path_style: bool
    #: Checksum algorithm sent with uploads (obstore `checksum_algorithm`), or None for none.
    checksum: str | None
    #: Whether DeleteObjects (multi-object delete) is available.
    bulk_delete: bool
    min_part_size: int
    max_part_size: int
    max_parts: int
    #: Part size for uploads of unknown length (the largest such upload is this times `max_parts`).
    default_part_size: int
    #: Parts in flight per upload: memory per upload is at most part size times (this + 1).
    upload_concurrency: int
    secret_types: tuple[str, ...]

    def region_for(self, region: str | None) -> str:
        """The region to sign with; raises ValueError for a region this provider cannot have."""
        if region is None or region == "":
            return self.default_region
        if not _REGION.fullmatch(region):
            raise ValueError(f"region {region!r} is not a region name (lowercase letters, digits and '-')")
        if self.region_fixed and region != self.default_region:
            raise ValueError(f"{self.title} always uses region {self.default_region!r}, not {region!r}")
        return region

    def endpoint_for(self, endpoint: str | None, region: str) -> str | None:
        """The endpoint to connect to: the source's own, else the provider's."""
        if endpoint:
            return endpoint.rstrip("/")
        return self.endpoint.format(region=region) if self.endpoint else None

    def uses_path_style(self, requested: bool | None, bucket: str) -> bool:
        if requested is not None:
            return requested
        if self.dotted_buckets_path_style and "." in bucket:
            return True
        return self.path_style

    @property
    def max_object_size(self) -> int:
        return self.max_part_size * self.max_parts

    def part_size(self, size_hint: int | None) -> int:
        """The multipart part size for an upload of `size_hint` bytes (None: unknown)."""
        if size_hint is None:
            return self.default_part_size
        if size_hint > self.max_object_size:
            raise PayloadTooLarge(
                f"{size_hint} bytes is more than {self.title} accepts in one object ({self.max_object_size} bytes)"
            )
        needed = math.ceil(size_hint / self.max_parts)
        size = max(self.default_part_size, self.min_part_size, math.ceil(needed / MiB) * MiB)
        return min(size, self.max_part_size)


_S3_LIMITS = {"min_part_size": 5 * MiB, "max_part_size": 5 * GiB, "max_parts": 10_000}

PROFILES: dict[str, Profile] = {
    profile.name: profile
    for profile in (
        Profile(
            name="s3",
            title="S3-compatible storage",
            description="Any S3-compatible endpoint (MinIO, SeaweedFS, Ceph, Wasabi, R2, ...): give its endpoint.",
            endpoint=None,
            default_region="us-east-1",
            region_fixed=False,
            path_style=True,
            dotted_buckets_path_style=True,
            checksum=None,
            bulk_delete=True,
            default_part_size=8 * MiB,
            upload_concurrency=4,
            secret_types=("s3", "aws", "gcp", "storj"),
            **_S3_LIMITS,
        ),
        Profile(
            name="aws",
            title="Amazon S3",
            description="Amazon S3: give the bucket's region; the endpoint follows from it.",
            endpoint="https://s3.{region}.amazonaws.com",
            default_region="us-east-1",
            region_fixed=False,
            path_style=False,
            dotted_buckets_path_style=True,
            checksum="sha256",
            bulk_delete=True,
            default_part_size=8 * MiB,
            upload_concurrency=4,
            secret_types=("aws", "s3"),
            **_S3_LIMITS,
        ),
        Profile(
            name="gcp",
            title="Google Cloud Storage",
            description="Google Cloud Storage through its S3-interoperable XML API, with HMAC keys.",
            endpoint="https://storage.googleapis.com",
            default_region="auto",
            region_fixed=True,
            path_style=True,
            dotted_buckets_path_style=True,
            checksum=None,
            bulk_delete=False,  # the XML API has no multi-object delete
            default_part_size=8 * MiB,
            upload_concurrency=4,
            secret_types=("gcp", "s3"),
            **_S3_LIMITS,
        ),
        Profile(
            name="storj",
            title="Storj",
            description="Storj through its hosted S3 gateway.",
            endpoint="https://gateway.storjshare.io",
            default_region="global",
            region_fixed=True,
            path_style=True,
            dotted_buckets_path_style=True,
            checksum=None,
            bulk_delete=True,
            default_part_size=64 * MiB,  # Storj's segment size: smaller parts waste segments
            upload_concurrency=2,
            secret_types=("storj", "s3"),
            **_S3_LIMITS,
        ),
    )
}
