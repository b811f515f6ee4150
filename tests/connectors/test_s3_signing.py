"""SigV4 signing of the hub's own requests to S3: the AWS documentation's examples, and the front door's verifier
accepting what it signs (one implementation, both ways)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from headwater.api.s3 import sigv4
from headwater.connectors.s3_signing import EMPTY_SHA256, UNSIGNED_PAYLOAD, sign

# The AWS documentation's examples (Signature Calculations for the Authorization Header: Transferring
# Payload in a Single Chunk): a GET of an object with a range, and a GET of a bucket's `?lifecycle`.
EXAMPLE_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
EXAMPLE_TIME = datetime(2013, 5, 24, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "headers", "names", "signature"),
    [
        (
            "https://examplebucket.s3.amazonaws.com/test.txt",
            {"Range": "bytes=0-9"},
            "host;range;x-amz-content-sha256;x-amz-date",
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        ),
        (
            "https://examplebucket.s3.amazonaws.com/?lifecycle",
            {},
            "host;x-amz-content-sha256;x-amz-date",
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        ),
    ],
)
def test_sign_reproduces_the_aws_documentations_examples(
    url: str, headers: dict[str, str], names: str, signature: str
) -> None:
    signed = sign(
        "GET",
        url,
        "us-east-1",
        EXAMPLE_KEY_ID,
        EXAMPLE_SECRET,
        headers=headers,
        payload_hash=EMPTY_SHA256,
        now=EXAMPLE_TIME,
    )
    assert signed["x-amz-date"] == "20130524T000000Z"
    assert signed["authorization"] == (
        f"AWS4-HMAC-SHA256 Credential={EXAMPLE_KEY_ID}/20130524/us-east-1/s3/aws4_request, "
        f"SignedHeaders={names}, Signature={signature}"
    )


def test_the_front_doors_verifier_accepts_what_sign_signs_and_refuses_it_changed() -> None:
    url = "http://127.0.0.1:9000/bucket/a%20b/%C3%A9t%C3%A9.bin?partNumber=3&uploadId=x%2By%2Fz"
    now = datetime.now(UTC)
    signed = sign(
        "PUT",
        url,
        "eu-west-1",
        "HWKEY",
        "secret/key",
        headers={"Content-Length": "5", "Content-MD5": "abc=="},
        payload_hash=UNSIGNED_PAYLOAD,
        session_token="session",
        now=now,
    )
    parts = urlsplit(url)
    request = sigv4.parse_signed("PUT", parts.path, parts.query, signed)
    assert request is not None and request.access_key_id == "HWKEY" and request.region == "eu-west-1"
    assert "x-amz-security-token" in request.signed_headers and "content-md5" in request.signed_headers
    sigv4.verify(request, "PUT", parts.path, parts.query, signed, "secret/key", now)
    with pytest.raises(sigv4.SigV4Error):
        sigv4.verify(request, "PUT", parts.path, parts.query.replace("=3", "=4"), signed, "secret/key", now)
