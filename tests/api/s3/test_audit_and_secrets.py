"""The front door writes the Data API's audit events, and no credential ever leaves the hub."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from sqlalchemy import text

from tests.fixtures.s3_clients import boto3_client
from tests.fixtures.s3_front import Org, S3Front
from tests.fixtures.seaweedfs import SeaweedFS


def events(org: Org) -> list[dict[str, Any]]:
    answer = org.api.get("/v1/audit", params={"limit": 1000})
    assert answer.status_code == 200, answer.text
    return [e for e in answer.json()["events"] if str(e["route"]).startswith("s3 ")]


def test_each_s3_request_is_one_audit_event_like_the_data_apis(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    s3.put_object(Bucket=org.bucket, Key="team/a.txt", Body=b"12345")
    s3.get_object(Bucket=org.bucket, Key="team/a.txt")["Body"].read()
    s3.list_objects_v2(Bucket=org.bucket, Prefix="team/")
    s3.delete_object(Bucket=org.bucket, Key="team/a.txt")
    narrowed = s3_front.client(
        s3_front.running.token(org=org.name, user="pre", admin=False, path_prefix=f"s3+{org.label}://team/")
    )
    with pytest.raises(ClientError):
        narrowed.get_object(Bucket=org.bucket, Key="other/x")
    seen = [(e["route"], e["operation"], e["connection"], e["path"], e["outcome"]) for e in events(org)]
    connection = f"s3+{org.label}"
    assert seen == [
        ("s3 PutObject", "data.write", connection, "team/a.txt", "allowed"),
        ("s3 GetObject", "data.read", connection, "team/a.txt", "allowed"),
        ("s3 ListObjectsV2", "data.list", connection, "team/", "allowed"),
        ("s3 DeleteObject", "data.delete", connection, "team/a.txt", "allowed"),
        ("s3 GetObject", "data.read", connection, "other/x", "refused"),
    ]
    last = events(org)[-1]
    assert last["status"] == 403 and "team/" in (last["reason"] or "")
    written = events(org)[0]
    assert written.get("bytesIn", written.get("bytes_in")) == 5


def test_no_credential_appears_in_any_answer_log_or_trail(s3_front: S3Front, org: Org, seaweedfs: SeaweedFS) -> None:
    """Signed requests that succeed and that fail every way a caller can make them fail: no answer,
    log line or audit event carries the backend's secret, the access key's secret or the token."""
    account = s3_front.account(org.token)
    s3_front.client(org.token).put_object(Bucket=org.bucket, Key="s/a", Body=b"1")
    narrowed = s3_front.running.token(org=org.name, user="leaks", admin=False, path_prefix=f"s3+{org.label}://s/")
    answers: list[str] = []

    def keep(response: httpx.Response) -> None:
        answers.append(f"{response.status_code} {dict(response.headers)} {response.text}")

    for token, path in (
        (org.token, f"/{org.bucket}?list-type=2"),
        (org.token, f"/{org.bucket}/s/a"),
        (org.token, f"/{org.bucket}/nothing"),
        (org.token, "/nothing.s3/x"),
        (org.token, "/"),
        (narrowed, f"/{org.bucket}/elsewhere/x"),
    ):
        url = s3_front.url + path
        keep(httpx.get(url, headers=s3_front.signed(token, "GET", url)))
    url = f"{s3_front.url}/{org.bucket}/s/a"
    forged = s3_front.signed(org.token, "GET", url)
    forged["Authorization"] = re.sub(r"Signature=[0-9a-f]+", "Signature=" + "0" * 64, forged["Authorization"])
    keep(httpx.get(url, headers=forged))
    posing = s3_front.signed(org.token, "GET", url)
    posing["Authorization"] = posing["Authorization"].replace(account.key_id, org.token)
    keep(httpx.get(url, headers=posing))
    presigned = boto3_client(account, signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": org.bucket, "Key": "s/a"}
    )
    keep(httpx.get(presigned))
    keep(httpx.get(presigned.replace("s/a", "s/b")))
    outcomes = " ".join(answers)
    for code in ("NoSuchKey", "NoSuchBucket", "AccessDenied", "SignatureDoesNotMatch", "InvalidAccessKeyId"):
        assert code in outcomes  # the capture really holds each kind of failure
    trail = org.api.get("/v1/audit", params={"limit": 1000}).text
    logs = "\n".join(s3_front.running.logs.lines)
    for seen in (*answers, trail, logs):
        assert seaweedfs.rw.secret_key not in seen
        assert account.secret not in seen
    for seen in (trail, logs):
        assert org.token not in seen
        assert narrowed not in seen


def test_a_copy_audits_its_source_read_and_a_delete_objects_each_key(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    s3.put_object(Bucket=org.bucket, Key="a/src", Body=b"1")
    s3.copy_object(Bucket="data", Key="coll/dst", CopySource={"Bucket": org.bucket, "Key": "a/src"})
    s3.delete_objects(Bucket=org.bucket, Delete={"Objects": [{"Key": "a/src"}, {"Key": "a/gone"}]})
    seen = [(e["route"], e["operation"], e["connection"], e["path"], e["status"]) for e in events(org)[1:]]
    connection = f"s3+{org.label}"
    assert seen[:2] == [
        ("s3 CopyObject", "data.read", connection, "a/src", 200),
        ("s3 CopyObject", "data.write", "data", "coll/dst", 200),
    ] or seen[:2] == [
        ("s3 CopyObject", "data.write", "data", "coll/dst", 200),
        ("s3 CopyObject", "data.read", connection, "a/src", 200),
    ]
    deletes = sorted((e[3], e[4]) for e in seen[2:] if e[0] == "s3 DeleteObjects")
    assert deletes == [("2 keys, the first 'a/src'", 200), ("a/gone", 204), ("a/src", 204)]


def test_a_refused_signature_is_audited_with_a_digest_of_its_key_id(s3_front: S3Front, org: Org) -> None:
    account = s3_front.account(org.token)
    url = f"{s3_front.url}/{org.bucket}/s/refused"
    for _ in range(2):
        forged = s3_front.signed(org.token, "GET", url)
        forged["Authorization"] = re.sub(r"Signature=[0-9a-f]+", "Signature=" + "1" * 64, forged["Authorization"])
        assert httpx.get(url, headers=forged).status_code == 403
    revoked = s3_front.key(org.token, name="revoked")
    assert org.api.delete(f"/v1/access-keys/{revoked.key_id}").status_code in (200, 204)
    with pytest.raises(ClientError):
        boto3_client(revoked).get_object(Bucket=org.bucket, Key="s/refused")
    digest = s3_front.running.hub.audit.digest
    with s3_front.running.hub.store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT token_hmac, outcome FROM audit_events WHERE route LIKE 's3 %' AND token_hmac IS NOT NULL")
        ).fetchall()
    by_digest = Counter(row[0] for row in rows if row[1] == "refused")
    assert by_digest[digest(account.key_id)] >= 2 and by_digest[digest(revoked.key_id)] >= 1
    assert account.key_id not in repr(rows) and revoked.key_id not in repr(rows)


def test_a_copy_within_a_connection_audits_its_source_read_and_its_write(s3_front: S3Front, org: Org) -> None:
    s3 = s3_front.client(org.token)
    s3.put_object(Bucket=org.bucket, Key="w/src", Body=b"1")
    s3.copy_object(Bucket=org.bucket, Key="w/dst", CopySource={"Bucket": org.bucket, "Key": "w/src"})
    with pytest.raises(ClientError):
        s3.copy_object(
            Bucket=org.bucket,
            Key="w/dst2",
            CopySource={"Bucket": org.bucket, "Key": "w/src"},
            CopySourceIfMatch='"not-its-etag"',
        )
    seen = sorted((e["operation"], e["path"], e["status"]) for e in events(org)[1:] if e["route"] == "s3 CopyObject")
    assert seen == [
        ("data.read", "w/src", 200),
        ("data.read", "w/src", 412),
        ("data.write", "w/dst", 200),
        ("data.write", "w/dst2", 412),
    ]
