"""The production front door: real SigV4 over access keys, with boto3 as it comes (aws-chunked bodies
with trailing checksums included), and the refusals of keys that do not hold."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
import uvicorn
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from headwater.api.s3.app import create_s3_app
from tests.fixtures.network import free_port, wait_for_port
from tests.fixtures.s3_front import Org, S3Front
from tests.fixtures.seaweedfs import SeaweedFS

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def signed_url(s3_front: S3Front) -> Iterator[str]:
    """The S3 app with its default (SigV4) authenticator, over the same hub."""
    app = create_s3_app(s3_front.running.hub)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for_port(port)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


def key_for(org: Org, **narrowing: Any) -> tuple[str, str]:
    made = org.api.post("/v1/access-keys", json={"name": "test", **narrowing})
    assert made.status_code == 201, made.text
    body = made.json()
    return body["accessKeyId"], body["secretAccessKey"]


def client(url: str, key: tuple[str, str]) -> Any:
    """boto3 as it comes: default checksums (aws-chunked with a trailing CRC on uploads), SigV4."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=key[0],
        aws_secret_access_key=key[1],
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def test_boto3_as_it_comes_reads_and_writes_with_an_access_key(
    signed_url: str, org: Org, tmp_path: Path, seaweedfs: SeaweedFS
) -> None:
    s3 = client(signed_url, key_for(org))
    s3.put_object(Bucket=org.bucket, Key="signed/a.txt", Body=b"signed body")
    assert s3.get_object(Bucket=org.bucket, Key="signed/a.txt")["Body"].read() == b"signed body"
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(12 * MiB))
    parts = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    s3.upload_file(str(source), "data", "coll/big.bin", Config=parts)
    back = tmp_path / "back.bin"
    s3.download_file("data", "coll/big.bin", str(back), Config=parts)
    assert hashlib.sha256(back.read_bytes()).digest() == hashlib.sha256(source.read_bytes()).digest()
    url = s3.generate_presigned_url("get_object", Params={"Bucket": org.bucket, "Key": "signed/a.txt"}, ExpiresIn=60)
    assert httpx.get(url).content == b"signed body"
    assert (
        httpx.get(url.replace("signed%2Fa.txt", "signed/b.txt").replace("signed/a.txt", "signed/b.txt")).status_code
        == 403
    )


def test_keys_that_do_not_hold_are_refused_in_s3s_words(signed_url: str, org: Org) -> None:
    key_id, secret = key_for(org)
    wrong = client(signed_url, (key_id, secret[:-1] + ("x" if secret[-1] != "x" else "y")))
    with pytest.raises(ClientError) as caught:
        wrong.list_objects_v2(Bucket=org.bucket)
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    unknown = client(signed_url, ("HW" + "A" * 18, secret))
    with pytest.raises(ClientError) as unknown_caught:
        unknown.list_objects_v2(Bucket=org.bucket)
    assert unknown_caught.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert org.api.delete(f"/v1/access-keys/{key_id}").status_code in (200, 204)
    with pytest.raises(ClientError) as revoked:
        client(signed_url, (key_id, secret)).list_objects_v2(Bucket=org.bucket)
    assert revoked.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    read_only = client(signed_url, key_for(org, readOnly=True))
    with pytest.raises(ClientError) as refused:
        read_only.put_object(Bucket=org.bucket, Key="signed/ro", Body=b"x")
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
