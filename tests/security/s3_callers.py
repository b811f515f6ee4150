"""The callers of the S3 rights tables, and how a table of their answers is read.

Both S3 rights tables (a connection's bucket, a table bucket) ask the same seven kinds of caller:
an organization's admin, a member, a read-only token, a token narrowed to the connection (sources),
one narrowed to a prefix of it, another organization's admin, and an anonymous request. Each signs
with an access key issued to its token, as any S3 client would; the anonymous one does not sign.
An answer is "ok" for success, else the S3 error code (HEAD answers carry no body: their code is
the status).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.fixtures.s3_front import Org, S3Front

CALLERS = ("admin", "member", "read_only", "sources", "prefix", "other_org", "anonymous")

WorldT = TypeVar("WorldT")
#: One S3 request (or a few) as one caller: its client, what the table's world holds, and the caller's name.
Operation = Callable[[Any, WorldT, str], object]


def row(
    admin: str = "ok",
    member: str = "ok",
    read_only: str = "ok",
    sources: str = "ok",
    prefix: str = "ok",
    other_org: str = "NoSuchBucket",
    anonymous: str = "AccessDenied",
) -> dict[str, str]:
    """One operation's expected answer for each caller; by default what a readable bucket of `org` answers."""
    return dict(zip(CALLERS, (admin, member, read_only, sources, prefix, other_org, anonymous), strict=True))


def clients(s3_front: S3Front, org: Org, source_id: str, path_prefix: str) -> dict[str, Any]:
    """A boto3 client for each caller of `org`: `sources` is narrowed to the connection `source_id`, `prefix` to
    the address prefix `path_prefix`; `other_org` is the admin of an organization of its own."""
    running = s3_front.running
    tokens = {
        "admin": org.token,
        "member": running.token(org=org.name, user=f"m{uuid.uuid4().hex[:6]}", admin=False),
        "read_only": running.token(org=org.name, user="ro", admin=False, read_only=True),
        "sources": running.token(org=org.name, user="src", admin=False, source_ids=(source_id,)),
        "prefix": running.token(org=org.name, user="pre", admin=False, path_prefix=path_prefix),
        "other_org": running.token(),
    }
    made = {name: s3_front.client(token) for name, token in tokens.items()}
    made["anonymous"] = boto3.session.Session().client(
        "s3",
        endpoint_url=s3_front.url,
        region_name="us-east-1",
        config=Config(signature_version=UNSIGNED, s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )
    assert set(made) == set(CALLERS)
    return made


def raise_first_error(result: Mapping[str, Any], operation: str) -> None:
    """DeleteObjects answers 200 with each key's failure in its body: raise the first as boto3 raises the others."""
    if result.get("Errors"):
        error = result["Errors"][0]
        raise ClientError({"Error": {"Code": error["Code"], "Message": error["Message"]}}, operation)


def outcome(call: Callable[[], object]) -> str:
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "ok"


def wrong_answers(
    operations: Mapping[str, Operation[WorldT]],
    table: Mapping[str, Mapping[str, str]],
    callers: Mapping[str, Any],
    world: WorldT,
) -> dict[str, str]:
    """Every operation as every caller (`callers`: each one's client), against `table`: the answers that differ."""
    answers = {
        (name, who): outcome(lambda op=op, who=who: op(callers[who], world, who))  # type: ignore[misc]
        for name, op in operations.items()
        for who in CALLERS
    }
    return {
        f"{name} as {who}": f"got {answers[(name, who)]}, expected {table[name][who]}"
        for name in operations
        for who in CALLERS
        if answers[(name, who)] != table[name][who]
    }
