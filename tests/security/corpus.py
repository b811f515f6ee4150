"""A corpus of hostile paths: traversal in every encoding, mixed separators, NUL and control
characters, overlong segments, unicode look-alikes, restriction-prefix tricks and other tenants."""

from __future__ import annotations

import itertools

DOTS = [
    "..",
    "%2e%2e",
    "%2E%2E",
    ".%2e",
    "%2e.",
    "%252e%252e",
    "%c0%ae%c0%ae",
    "%e0%80%ae%e0%80%ae",
    "%ef%bc%8e%ef%bc%8e",
    "%e2%80%a5",
    "....",
    "..%00",
    "..%0a",
    ".",
    "%2e",
    "...",
]
SEPARATORS = ["/", "%2f", "%2F", "%5c", "%5C", "\\", "//", "/./", "%252f", "%c0%af", "%e2%88%95", "%ef%bc%8f", ";/"]
TARGETS = [
    "outside/canary.txt",
    "etc/passwd",
    "bucket-evil/x.txt",
    "bucket-evil",
    "bucket/../bucket-evil/x.txt",
    "hosted",
    "master.key",
    "headwater.db",
]
WEIRD_SEGMENTS = [
    "%00",
    "a%00b",
    "%0d%0aX-Injected:%201",
    "%01",
    "%1f",
    "%7f",
    "a" * 300,
    "%e2%80%ae",
    "%ef%bb%bf",
    "con",
    "nul",
    "*",
    "?",
    "%3f",
    "%23",
    "%25",
    "%",
    "%zz",
    "%c3%28",
    "%ff",
    "%e2%82",
]


def connector_prefixes(label: str, other_org: str) -> list[str]:
    return [
        f"/v1/connector/local+{label}/",
        f"/v1/data/local+{label}://",
        f"/v1/data/local+{label}:/",
        f"/v1/connector/local+{label}/bucket/",
        "/v1/data/.my/coll/",
        f"/v1/data/{other_org}/coll/",
        f"/v1/connector/data/{other_org}/",
        "/v1/data/.my/",
        "/v1/data/",
    ]


def hostile_paths(label: str, other_org: str) -> list[str]:
    """At least a thousand distinct request paths, every one of which must be refused or confined."""
    paths: list[str] = []
    for prefix in connector_prefixes(label, other_org):
        for dots, sep, target in itertools.product(DOTS, SEPARATORS[:7], TARGETS[:3]):
            paths.append(f"{prefix}{dots}{sep}{dots}{sep}{target}")
        for segment in WEIRD_SEGMENTS:
            paths.append(f"{prefix}bucket/{segment}/x")
        for trick in (
            "bucket-evil/x.txt",
            "bucket_/x",
            "bucket.x",
            "Bucket/x",
            "bucket%2devil/x.txt",
            "bucket%2fx",
            ".my/../x",
            "%2emy/x",
            ".MY/x",
            f"{other_org}/coll/f",
            f"{other_org}%2fcoll",
        ):
            paths.append(f"{prefix}{trick}")
    return sorted(set(paths))
