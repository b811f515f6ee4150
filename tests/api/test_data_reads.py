"""Data API reads served by the lean handler (`api.data_reads`) answer exactly as the FastAPI route does.

What its speed relies on, pinned: a small file sent in one message and a large one streamed carry
the same headers apart from their length; the audit event names the same route and operation as
a write through FastAPI; errors keep their status and message; `/v1/connectors` is not a Data API path;
the content type guessed once per suffix is the one guessed from the whole name.
"""

from __future__ import annotations

import httpx

from tests.fixtures.hub import RunningHub

FRAMING = {"content-length", "etag", "last-modified", "date", "x-request-id"}


def test_a_small_file_and_a_large_file_carry_the_same_headers_apart_from_their_length(
    api: httpx.Client, hub_server: RunningHub
) -> None:
    small = b"a,b\n1,2\n"
    large = bytes(range(256)) * (hub_server.hub.settings.chunk_size // 256 * 2 + 3)  # several chunks
    assert api.put("/v1/data/.my/reads/small/f.csv", content=small).status_code == 200
    assert api.put("/v1/data/.my/reads/large/f.csv", content=large).status_code == 200
    one = api.get("/v1/data/.my/reads/small/f.csv")
    many = api.get("/v1/data/.my/reads/large/f.csv")
    assert one.status_code == many.status_code == 200
    assert one.content == small and many.content == large
    assert one.headers["content-length"] == str(len(small)) and many.headers["content-length"] == str(len(large))
    assert "transfer-encoding" not in one.headers and "transfer-encoding" not in many.headers
    assert {k: v for k, v in one.headers.items() if k not in FRAMING} == {
        k: v for k, v in many.headers.items() if k not in FRAMING
    }
    ranged = api.get("/v1/data/.my/reads/large/f.csv", headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == large[10:20]
    assert ranged.headers["content-range"] == f"bytes 10-19/{len(large)}" and ranged.headers["content-length"] == "10"


def test_a_read_is_audited_under_the_same_route_as_a_write_through_fastapi(api: httpx.Client) -> None:
    assert api.put("/v1/data/.my/reads/a.txt", content=b"hello").status_code == 200
    assert api.get("/v1/data/.my/reads/a.txt").content == b"hello"
    events = api.get("/v1/audit", params={"pathPrefix": "reads/a.txt"}).json()["events"]
    summary = [(e["operation"], e["route"], e["outcome"], e["status"], e["bytesIn"], e["bytesOut"]) for e in events]
    assert summary == [
        ("data.write", "/v1/data/{path:path}", "allowed", 200, 5, summary[0][5]),
        ("data.read", "/v1/data/{path:path}", "allowed", 200, 0, 5),
    ]


def test_read_errors_keep_their_status_and_name_what_was_wrong(api: httpx.Client, hub_server: RunningHub) -> None:
    missing = api.get("/v1/data/.my/reads/nothing-here.txt")
    assert missing.status_code == 404 and "nothing-here.txt" in missing.json()["error"]["message"]
    head = api.head("/v1/data/.my/reads/nothing-here.txt")
    assert head.status_code == 404 and "nothing-here.txt" in head.headers["x-error-message"]
    unknown = api.get("/v1/connector/s3+nolabel/bucket/a.txt")
    assert unknown.status_code == 404 and "s3+nolabel" in unknown.json()["error"]["message"]
    anonymous = httpx.get(f"{hub_server.url}/v1/data/.my/reads/a.txt", timeout=30)
    assert anonymous.status_code == 401 and "token" in anonymous.json()["error"]["message"]
    assert "connectors" in api.get("/v1/connectors").json()  # the catalogue, not a connection named "s"


def test_a_file_type_guessed_once_per_suffix_is_the_one_mimetypes_guesses_from_the_whole_name() -> None:
    import mimetypes

    from headwater.api.routers.data import guessed_type

    names = ["a/b.csv", "x.tar.gz", "x.TXT", ".bashrc", ".json", "a/..json", "noext", "dir.d/noext", "a.b.c.parquet"]
    names += ["x.tgz", "a/b/c.JPG", "weird.", "a.unknownext", "a/.hidden.csv", "x.gz", "x:y.csv"]
    for name in names:
        assert guessed_type(name) == mimetypes.guess_type(name)[0], name
