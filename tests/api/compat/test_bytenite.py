"""ByteNite's documented requests, replayed verbatim in shape against a real hub.

Secrets made here are native secrets; a `dataSource` object is an ephemeral connection
through the same services. Every error is ByteNite's generic response with `ok: false`.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import obstore
import pytest

from tests.fixtures.http_server import HttpServer
from tests.fixtures.hub import RunningHub
from tests.fixtures.seaweedfs import SeaweedFS

S3_TYPE = "type.googleapis.com/bytenite.data_source.S3DataSource"
HTTP_TYPE = "type.googleapis.com/bytenite.data_source.HttpDataSource"
FILE_TYPE = "type.googleapis.com/bytenite.data_source.LocalFileDataSource"
SECRET_VALUE = "bn-canary-wJalrXUtnFEMI-K7MDENG-" + uuid.uuid4().hex

# The documents' own example access key ids, assembled here so they never read as committed keys.
SEED_ACCESS_KEY = "AKIA" + "XXEXAMPLEEXAMPLEX"
REFERENCE_ACCESS_KEY = "AKIA" + "IOSFODNN7EXAMPLE"


def bytenite(hub: RunningHub, token: str) -> httpx.Client:
    """A client that authenticates as ByteNite's examples do: the raw token, no scheme."""
    return hub.client(None, Authorization=token)


def assert_generic_ok(body: dict[str, Any]) -> None:
    assert body["ok"] is True and isinstance(body["requestId"], str) and body["requestId"]
    assert isinstance(body["message"], str)


def assert_envelope(response: httpx.Response, status: int, phrase: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"ok", "requestId", "message", "error"}
    assert body["ok"] is False and body["requestId"] and body["message"] == "Request failed"
    assert body["error"]["code"] == status and body["error"]["message"] == phrase
    assert isinstance(body["error"]["description"], str) and body["error"]["description"]
    return body


def seed_secret(**changes: Any) -> dict[str, Any]:
    """The seed's `POST /auth/secrets` body, values changed."""
    secret = {
        "id": "aws_full_s3_access_key",
        "name": "John's AWS S3 Full Bucket Access",
        "secretType": "s3",
        "accessKey": SEED_ACCESS_KEY,
        "expiresAt": "2099-12-29T18:02:27.140Z",
    }
    secret.update(changes)
    return {"secret": secret, "secretKey": SECRET_VALUE}


# -- secrets --------------------------------------------------------------------------------


def test_the_seed_secret_is_created_with_a_bare_token_and_answered_with_the_generic_response(
    hub_server: RunningHub,
) -> None:
    token = hub_server.token()
    with bytenite(hub_server, token) as api:
        response = api.post("/v1/auth/secrets", json=seed_secret())
        assert response.status_code == 200, response.text
        assert_generic_ok(response.json())
        listed = api.get("/v1/auth/secrets").json()
    assert listed == {
        "secrets": [
            {
                "id": "aws_full_s3_access_key",
                "name": "John's AWS S3 Full Bucket Access",
                "secretType": "s3",
                "accessKey": SEED_ACCESS_KEY,
                "expiresAt": "2099-12-29T18:02:27.140000Z",
            }
        ]
    }


def test_the_reference_secret_object_with_params_and_a_bearer_token(hub_server: RunningHub) -> None:
    token = hub_server.token()
    body = {
        "secret": {
            "id": "s3-secret",
            "secretType": "s3",
            "expiresAt": "2099-12-29T18:02:27.140Z",
            "accessKey": REFERENCE_ACCESS_KEY,
            "params": {"ANY_ADDITIONAL_PROPERTY": "text"},
            "name": "My S3 Secret",
        },
        "secretKey": SECRET_VALUE,
    }
    with hub_server.client(token) as api:
        assert_generic_ok(api.post("/v1/auth/secrets", json=body).json())
        shown = api.get("/v1/auth/secrets").json()["secrets"][0]
    assert shown["params"] == {"ANY_ADDITIONAL_PROPERTY": "text"} and "secretKey" not in shown


def test_a_bytenite_secret_is_a_native_secret_and_the_reverse(hub_server: RunningHub) -> None:
    token = hub_server.token()
    with bytenite(hub_server, token) as api:
        api.post("/v1/auth/secrets", json=seed_secret()).raise_for_status()
        native = api.get("/v1/secrets/aws_full_s3_access_key").json()
        assert native["secretType"] == "s3" and native["accessKey"] == SEED_ACCESS_KEY
        assert native["valueKeys"] == ["secretKey"]
        api.post(
            "/v1/secrets",
            json={"id": "gcs-hmac", "secretType": "gcp", "accessKey": "GOOG1E", "secretKey": SECRET_VALUE},
        )
        ids = [s["id"] for s in api.get("/v1/auth/secrets").json()["secrets"]]
    assert ids == ["aws_full_s3_access_key", "gcs-hmac"]


def test_listing_by_secret_type_treats_aws_and_s3_as_one(hub_server: RunningHub) -> None:
    token = hub_server.token()
    with bytenite(hub_server, token) as api:
        api.post("/v1/auth/secrets", json=seed_secret()).raise_for_status()
        api.post("/v1/auth/secrets", json=seed_secret(id="aws-new", secretType="aws")).raise_for_status()
        api.post("/v1/auth/secrets", json=seed_secret(id="storj-key", secretType="storj")).raise_for_status()
        aws = api.get("/v1/auth/secrets", params={"secretType": "aws"}).json()["secrets"]
        storj = api.get("/v1/auth/secrets", params={"secretType": "storj"}).json()["secrets"]
    assert sorted(s["id"] for s in aws) == ["aws-new", "aws_full_s3_access_key"]
    assert [s["id"] for s in storj] == ["storj-key"]


def test_secret_errors_use_the_generic_envelope(hub_server: RunningHub) -> None:
    token = hub_server.token()
    with bytenite(hub_server, token) as api:
        api.post("/v1/auth/secrets", json=seed_secret()).raise_for_status()
        duplicate = assert_envelope(api.post("/v1/auth/secrets", json=seed_secret()), 409, "Conflict")
        assert "aws_full_s3_access_key" in duplicate["error"]["description"]
        no_key = api.post("/v1/auth/secrets", json={"secret": seed_secret()["secret"]})
        assert "secretKey" in assert_envelope(no_key, 400, "Bad Request")["error"]["description"]
        bad_type = seed_secret(id="x", secretType="dropbox")
        assert_envelope(api.post("/v1/auth/secrets", json=bad_type), 400, "Bad Request")
    with bytenite(hub_server, "not-a-token") as stranger:
        assert_envelope(stranger.get("/v1/auth/secrets"), 401, "Unauthorized")


def test_delete_by_type_and_id_then_404(hub_server: RunningHub) -> None:
    token = hub_server.token()
    with bytenite(hub_server, token) as api:
        api.post("/v1/auth/secrets", json=seed_secret()).raise_for_status()
        assert_envelope(api.delete("/v1/auth/secrets/gcp/aws_full_s3_access_key"), 404, "Not Found")
        deleted = api.delete("/v1/auth/secrets/aws/aws_full_s3_access_key")  # aws and s3 are one type
        assert deleted.status_code == 200, deleted.text
        assert_generic_ok(deleted.json())
        assert api.get("/v1/secrets/aws_full_s3_access_key").status_code == 404
        again = assert_envelope(api.delete("/v1/auth/secrets/s3/aws_full_s3_access_key"), 404, "Not Found")
        assert "aws_full_s3_access_key" in again["error"]["description"]
        assert api.get("/v1/auth/secrets").json() == {"secrets": []}


def test_secrets_of_another_organization_are_invisible(hub_server: RunningHub) -> None:
    mine, theirs = hub_server.token(), hub_server.token()
    with bytenite(hub_server, theirs) as api:
        api.post("/v1/auth/secrets", json=seed_secret()).raise_for_status()
    with bytenite(hub_server, mine) as api:
        assert api.get("/v1/auth/secrets").json() == {"secrets": []}
        assert_envelope(api.delete("/v1/auth/secrets/s3/aws_full_s3_access_key"), 404, "Not Found")


# -- data sources without S3 ----------------------------------------------------------------


def seed_data_source(**params: Any) -> dict[str, Any]:
    """The seed's `POST /customer/jobs/datasource/info` body."""
    body = {
        "@type": S3_TYPE,
        "name": "/vids/big_buck_bunny.mp4",
        "bucketName": "my-app-data-bucket-12345",
        "cloudRegion": "us-east-2",
        "secret_id": "aws_full_s3_access_key",
    }
    body.update(params)
    return {"dataSource": {"dataSourceDescriptor": "s3", "params": body}}


@pytest.mark.parametrize("base", ["/v1/customer", "/v1/computing"])
@pytest.mark.parametrize("route", ["/jobs/datasource/info", "/datasource/test"])
def test_the_seed_data_source_with_an_unknown_secret_is_a_404_envelope(
    hub_server: RunningHub, base: str, route: str
) -> None:
    token = hub_server.token()
    with bytenite(hub_server, token) as api:
        response = api.post(base + route, json=seed_data_source())
    body = assert_envelope(response, 404, "Not Found")
    assert "aws_full_s3_access_key" in body["error"]["description"]


def test_an_expired_secret_is_refused(hub_server: RunningHub) -> None:
    token = hub_server.token()
    with bytenite(hub_server, token) as api:
        api.post("/v1/auth/secrets", json=seed_secret(expiresAt="2001-01-01T00:00:00Z")).raise_for_status()
        response = api.post("/v1/customer/datasource/test", json=seed_data_source())
    assert "expired" in assert_envelope(response, 403, "Forbidden")["error"]["description"]


def info(
    api: httpx.Client, descriptor: str, params: dict[str, Any] | None = None, list_files: bool | None = None
) -> httpx.Response:
    source: dict[str, Any] = {"dataSourceDescriptor": descriptor}
    if params is not None:
        source["params"] = params
    body: dict[str, Any] = {"dataSource": source}
    if list_files is not None:
        body["listFiles"] = list_files
    return api.post("/v1/customer/jobs/datasource/info", json=body)


def test_an_http_data_source_is_described_from_its_headers(hub_server: RunningHub, http_server: HttpServer) -> None:
    token = hub_server.token()
    url = f"{http_server.url}/files/hello.txt"
    with bytenite(hub_server, token) as api:
        response = info(api, "url", {"@type": HTTP_TYPE, "url": url})
        legacy = info(api, "url", {"@type": HTTP_TYPE, "url": url, "name": "", "username": "", "password": ""})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["filename"] == "hello.txt" and body["size"] == "12" and body["path"] == url
    assert body["tempUrl"] == url and body["properties"]["contentType"].startswith("text/plain")
    assert body["properties"]["etag"] and "files" not in body
    assert legacy.json() == body
    assert httpx.get(body["tempUrl"]).content == http_server.files["hello.txt"]


def test_a_missing_http_object_is_a_404_envelope(hub_server: RunningHub, http_server: HttpServer) -> None:
    token = hub_server.token()
    with bytenite(hub_server, token) as api:
        response = info(api, "url", {"@type": HTTP_TYPE, "url": f"{http_server.url}/files/nothing-here.txt"})
    assert_envelope(response, 404, "Not Found")


def test_bypass_and_bucket_need_no_params(hub_server: RunningHub) -> None:
    token = hub_server.token()
    with bytenite(hub_server, token) as api:
        for descriptor, params in (("bypass", None), ("bucket", None), ("bucket", {})):
            response = info(api, descriptor, params, list_files=True)
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["filename"] == "" and body["size"] == "0" and body["tempUrl"] == ""
            assert body["files"] == {"name": "", "path": "/", "directories": [], "files": []}


def test_a_file_data_source_without_an_upload_requires_configuration(hub_server: RunningHub) -> None:
    token = hub_server.token()
    with bytenite(hub_server, token) as api:
        response = info(api, "file", {"@type": FILE_TYPE})
    assert "requires configuration" in assert_envelope(response, 400, "Bad Request")["error"]["description"]


def test_malformed_data_source_objects_are_400_envelopes(hub_server: RunningHub) -> None:
    token = hub_server.token()
    with bytenite(hub_server, token) as api:
        wrong_type = info(api, "url", {"@type": S3_TYPE, "url": "http://127.0.0.1/x"})
        assert "@type" in assert_envelope(wrong_type, 400, "Bad Request")["error"]["description"]
        unknown = info(api, "dropbox", {})
        assert "dropbox" in assert_envelope(unknown, 400, "Bad Request")["error"]["description"]
        no_bucket = info(api, "aws", {"@type": S3_TYPE, "name": "/x"})
        assert "bucketName" in assert_envelope(no_bucket, 400, "Bad Request")["error"]["description"]
        inline = info(
            api, "storj", {"@type": S3_TYPE, "bucketName": "abc", "accessKey": "AK", "secretKey": SECRET_VALUE}
        )
        assert "secret_id" in assert_envelope(inline, 400, "Bad Request")["error"]["description"]
        storj_region = info(api, "storj", {"@type": S3_TYPE, "bucketName": "abc", "cloudRegion": "us-east-1"})
        assert "global" in assert_envelope(storj_region, 400, "Bad Request")["error"]["description"]
        no_object = api.post("/v1/customer/datasource/test", json={"listFiles": True})
        assert "dataSource" in assert_envelope(no_object, 400, "Bad Request")["error"]["description"]


def test_a_narrowed_token_cannot_open_an_ad_hoc_data_source(hub_server: RunningHub) -> None:
    token = hub_server.token(path_prefix="data://.my/reports/")
    with bytenite(hub_server, token) as api:
        response = info(api, "bypass")
    assert_envelope(response, 403, "Forbidden")


def test_no_response_or_log_line_holds_a_secret_value(hub_server: RunningHub, http_server: HttpServer) -> None:
    start_transcript, start_logs = len(hub_server.transcript), len(hub_server.logs.lines)
    token = hub_server.token()
    with bytenite(hub_server, token) as api:
        api.post("/v1/auth/secrets", json=seed_secret())
        api.post("/v1/auth/secrets", json=seed_secret())
        api.post("/v1/auth/secrets", json=seed_secret(id="bad id"))
        api.get("/v1/auth/secrets")
        api.post("/v1/customer/datasource/test", json=seed_data_source())
        info(api, "storj", {"@type": S3_TYPE, "bucketName": "abc", "accessKey": "AK", "secretKey": SECRET_VALUE})
        api.delete("/v1/auth/secrets/s3/aws_full_s3_access_key")
    captured = "\n".join(hub_server.transcript[start_transcript:] + hub_server.logs.lines[start_logs:])
    assert SEED_ACCESS_KEY in captured
    assert SECRET_VALUE not in captured


# -- data sources on a real S3 server -------------------------------------------------------


def s3_world(hub: RunningHub, seaweedfs: SeaweedFS) -> tuple[httpx.Client, str]:
    """A client of a fresh organization whose seed secret holds SeaweedFS's read-write keys, and a fresh bucket."""
    token = hub.token()
    body = seed_secret(accessKey=seaweedfs.rw.access_key)
    body["secretKey"] = seaweedfs.rw.secret_key
    with bytenite(hub, token) as setup:
        setup.post("/v1/auth/secrets", json=body).raise_for_status()
    return bytenite(hub, token), seaweedfs.create_bucket()


def s3_object(seaweedfs: SeaweedFS, bucket: str, descriptor: str = "s3", **params: Any) -> dict[str, Any]:
    """The seed's `dataSource` object, pointed at SeaweedFS through `params.endpoint`."""
    body = seed_data_source(**{"bucketName": bucket, "endpoint": seaweedfs.endpoint, **params})
    body["dataSource"]["dataSourceDescriptor"] = descriptor
    return body


def test_a_bytenite_secret_and_data_source_reach_the_same_bytes_as_the_native_address(
    hub_server: RunningHub, seaweedfs: SeaweedFS
) -> None:
    api, bucket = s3_world(hub_server, seaweedfs)
    with api:
        native = api.post(
            "/v1/sources",
            json={
                "protocol": "s3",
                "label": "lake",
                "params": {"endpoint": seaweedfs.endpoint},
                "secretId": "aws_full_s3_access_key",
                "access": "read-write",
            },
        )
        assert native.status_code == 201, native.text
        content = b"big buck bunny " * 1000
        api.put(f"/v1/connector/s3+lake/{bucket}/vids/big_buck_bunny.mp4", content=content).raise_for_status()
        head = api.head(f"/v1/connector/s3+lake/{bucket}/vids/big_buck_bunny.mp4")
        for base in ("/v1/customer/jobs/datasource/info", "/v1/computing/datasource/test"):
            response = api.post(base, json=s3_object(seaweedfs, bucket))
            assert response.status_code == 200, response.text
            body = response.json()
            assert set(body) == {"filename", "path", "size", "properties", "tempUrl"}
            assert body["filename"] == "big_buck_bunny.mp4" and body["path"] == "/vids/big_buck_bunny.mp4"
            assert body["size"] == str(len(content)) == head.headers["content-length"]
            assert body["properties"]["etag"] == head.headers["etag"]
            assert body["properties"]["bucketName"] == bucket and body["properties"]["cloudRegion"] == "us-east-2"
            assert body["tempUrl"] == "" or httpx.get(body["tempUrl"]).content == content
        assert bytes(obstore.get(seaweedfs.store(bucket), "vids/big_buck_bunny.mp4").bytes()) == content


def test_a_url_data_source_presigned_for_get_is_described_though_it_refuses_head(
    hub_server: RunningHub, seaweedfs: SeaweedFS
) -> None:
    bucket = seaweedfs.create_bucket()
    content = b"presigned bytes " * 64
    store = seaweedfs.store(bucket)
    obstore.put(store, "vids/signed.mp4", content)
    url = obstore.sign(store, "GET", "vids/signed.mp4", timedelta(minutes=10))
    assert httpx.head(url).status_code == 403  # signed for GET alone, as S3 and GCS links are
    with bytenite(hub_server, hub_server.token()) as api:
        for base in (
            "/v1/customer/jobs/datasource/info",
            "/v1/customer/datasource/test",
            "/v1/computing/datasource/test",
        ):
            response = api.post(
                base, json={"dataSource": {"dataSourceDescriptor": "url", "params": {"@type": HTTP_TYPE, "url": url}}}
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["filename"] == "signed.mp4" and body["size"] == str(len(content)) and body["path"] == url
            assert body["properties"]["type"] == "file" and body["properties"]["etag"]
            assert httpx.get(body["tempUrl"]).content == content


def test_list_files_returns_the_tree_beside_the_object(hub_server: RunningHub, seaweedfs: SeaweedFS) -> None:
    api, bucket = s3_world(hub_server, seaweedfs)
    store = seaweedfs.store(bucket)
    for key, data in {
        "vids/big_buck_bunny.mp4": b"abc",
        "vids/trailer.mp4": b"de",
        "vids/encoded/a.mp4": b"f",
        "other.txt": b"g",
    }.items():
        obstore.put(store, key, data)
    with api:
        body = api.post("/v1/customer/datasource/test", json={**s3_object(seaweedfs, bucket), "listFiles": True}).json()
        folder = api.post(
            "/v1/customer/datasource/test", json={**s3_object(seaweedfs, bucket, name="/vids/"), "listFiles": True}
        ).json()
        destination = api.post(
            "/v1/customer/datasource/test", json=s3_object(seaweedfs, bucket, name="/vids/encoded/")
        ).json()
    assert body["files"] == {
        "name": "vids",
        "path": "/vids",
        "directories": [
            {
                "name": "encoded",
                "path": "/vids/encoded",
                "directories": [],
                "files": [{"id": "vids/encoded/a.mp4", "name": "a.mp4", "path": "/vids/encoded/a.mp4", "size": "1"}],
            }
        ],
        "files": [
            {
                "id": "vids/big_buck_bunny.mp4",
                "name": "big_buck_bunny.mp4",
                "path": "/vids/big_buck_bunny.mp4",
                "size": "3",
            },
            {"id": "vids/trailer.mp4", "name": "trailer.mp4", "path": "/vids/trailer.mp4", "size": "2"},
        ],
    }
    assert folder["filename"] == "" and folder["properties"]["type"] == "directory" and folder["files"] == body["files"]
    assert destination["path"] == "/vids/encoded/" and destination["properties"]["type"] == "directory"


def test_a_missing_object_and_a_missing_bucket_are_404_envelopes(hub_server: RunningHub, seaweedfs: SeaweedFS) -> None:
    api, bucket = s3_world(hub_server, seaweedfs)
    with api:
        missing = api.post("/v1/customer/jobs/datasource/info", json=s3_object(seaweedfs, bucket))
        assert "big_buck_bunny.mp4" in assert_envelope(missing, 404, "Not Found")["error"]["description"]
        no_bucket = api.post("/v1/customer/jobs/datasource/info", json=s3_object(seaweedfs, "hw-no-such-bucket"))
        assert_envelope(no_bucket, 404, "Not Found")


def test_rejected_credentials_are_403_and_a_dead_store_is_503(hub_server: RunningHub, seaweedfs: SeaweedFS) -> None:
    api, bucket = s3_world(hub_server, seaweedfs)
    with api:
        wrong = seed_secret(id="wrong", accessKey=seaweedfs.rw.access_key)
        api.post("/v1/auth/secrets", json=wrong).raise_for_status()
        refused = api.post("/v1/customer/datasource/test", json=s3_object(seaweedfs, bucket, secret_id="wrong"))
        assert "credentials" in assert_envelope(refused, 403, "Forbidden")["error"]["description"]
        dead = s3_object(seaweedfs, bucket, endpoint="http://127.0.0.1:9")
        assert_envelope(api.post("/v1/customer/datasource/test", json=dead), 503, "Service Unavailable")


@pytest.mark.parametrize("descriptor,region", [("aws", "us-east-2"), ("gcp", "us-west2-b"), ("storj", "global")])
def test_every_s3_family_descriptor_reaches_an_s3_compatible_store(
    hub_server: RunningHub, seaweedfs: SeaweedFS, descriptor: str, region: str
) -> None:
    api, bucket = s3_world(hub_server, seaweedfs)
    obstore.put(seaweedfs.store(bucket), "vids/big_buck_bunny.mp4", b"0123456789")
    with api:
        response = api.post(
            "/v1/customer/jobs/datasource/info", json=s3_object(seaweedfs, bucket, descriptor, cloudRegion=region)
        )
    assert response.status_code == 200, response.text
    assert response.json()["size"] == "10"


def test_another_organizations_secret_cannot_be_used(hub_server: RunningHub, seaweedfs: SeaweedFS) -> None:
    api, bucket = s3_world(hub_server, seaweedfs)
    api.close()
    obstore.put(seaweedfs.store(bucket), "vids/big_buck_bunny.mp4", b"x")
    with bytenite(hub_server, hub_server.token()) as other:
        response = other.post("/v1/customer/datasource/test", json=s3_object(seaweedfs, bucket))
    assert "aws_full_s3_access_key" in assert_envelope(response, 404, "Not Found")["error"]["description"]


def test_s3_secret_values_never_reach_a_response_or_a_log(hub_server: RunningHub, seaweedfs: SeaweedFS) -> None:
    start_transcript, start_logs = len(hub_server.transcript), len(hub_server.logs.lines)
    api, bucket = s3_world(hub_server, seaweedfs)
    with api:
        api.post("/v1/customer/datasource/test", json={**s3_object(seaweedfs, bucket, name="/"), "listFiles": True})
        api.post("/v1/customer/datasource/test", json=s3_object(seaweedfs, bucket))
        api.post("/v1/customer/datasource/test", json=s3_object(seaweedfs, bucket, endpoint="http://127.0.0.1:9"))
        api.get("/v1/auth/secrets")
    captured = "\n".join(hub_server.transcript[start_transcript:] + hub_server.logs.lines[start_logs:])
    assert seaweedfs.rw.access_key in captured
    assert seaweedfs.rw.secret_key not in captured


def test_a_file_data_source_of_an_upload_carries_a_working_temp_url(hub_server: RunningHub) -> None:
    token = hub_server.token()
    content = b"id,amount\n1,10\n"
    with bytenite(hub_server, token) as api:
        upload = api.put("/v1/uploads/report.csv", content=content)
        assert upload.status_code == 201, upload.text
        params = {"@type": FILE_TYPE, "uploadId": upload.json()["uploadId"], "filename": "report.csv", "tempUrl": ""}
        response = info(api, "file", params, list_files=True)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["filename"] == "report.csv" and body["size"] == str(len(content))
    assert body["tempUrl"].startswith(hub_server.url + "/v1/links/")
    assert httpx.get(body["tempUrl"]).content == content
    assert [f["name"] for f in body["files"]["files"]] == ["report.csv"]


def test_a_path_that_escapes_is_refused(hub_server: RunningHub) -> None:
    token = hub_server.token()
    with bytenite(hub_server, token) as api:
        response = info(api, "bypass", {"filename": "x"})
        assert_envelope(response, 400, "Bad Request")
        escaping = info(api, "file", {"@type": FILE_TYPE, "uploadId": "0" * 32, "filename": "../../etc/passwd"})
        assert_envelope(escaping, 400, "Bad Request")


def test_legacy_shapes_are_accepted(hub_server: RunningHub, seaweedfs: SeaweedFS) -> None:
    """The reference's legacy forms: descriptor `local`, StorjDataSource, snake_case S3 params."""
    api, bucket = s3_world(hub_server, seaweedfs)
    obstore.put(seaweedfs.store(bucket), "in.txt", b"12345")
    with api:
        storj = {
            "@type": "type.googleapis.com/bytenite.data_source.StorjDataSource",
            "name": "/in.txt",
            "bucket_name": bucket,
            "cloud_region": "global",
            "secret_id": "aws_full_s3_access_key",
            "endpoint": seaweedfs.endpoint,
        }
        assert info(api, "storj", storj).json()["size"] == "5"
        upload = api.put("/v1/uploads/legacy.txt", content=b"abc").json()
        local = info(api, "local", {"@type": FILE_TYPE, "uploadId": upload["uploadId"], "filename": "legacy.txt"})
        assert local.status_code == 200 and local.json()["size"] == "3"
