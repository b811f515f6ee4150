"""`Client`: one hub, reached over HTTP with a token.

from headwater.client import Client
hub = Client()                        # HEADWATER_URL, HEADWATER_TOKEN
hub.file("data://.my/coll/a.csv").put(b"x,y\\n")
for entry in hub.dir("s3+lake://bucket/raw/").list(): ...
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import httpx

from headwater.addresses import Address
from headwater.client.data import DEFAULT_CHUNK, DataDirectory, DataFile
from headwater.client.errors import ClientError
from headwater.client.manage import AccessKeys, Audit, Jobs, Secrets, Sources, Systems, Tokens
from headwater.client.transport import DEFAULT_TIMEOUT, Transport
from headwater.settings import client_defaults


class Client:
    """A hub's Data API and management API. Defaults come from `HEADWATER_URL` and `HEADWATER_TOKEN`."""

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        chunk_size: int = DEFAULT_CHUNK,
    ) -> None:
        url, token = client_defaults(url, token)
        self.url = url.rstrip("/")
        self.chunk_size = chunk_size
        self._transport = Transport(self.url, token, timeout)
        self.secrets = Secrets(self._transport)
        self.sources = Sources(self._transport)
        self.systems = Systems(self._transport)
        self.tokens = Tokens(self._transport)
        self.access_keys = AccessKeys(self._transport)
        self.audit = Audit(self._transport)
        self.jobs = Jobs(self._transport)

    def __repr__(self) -> str:
        return f"Client({self.url!r})"

    def file(self, address: str | Address) -> DataFile:
        """A file at `data://org/path` or `protocol+label://path`."""
        return DataFile(self._transport, address, self.chunk_size)

    def dir(self, address: str | Address) -> DataDirectory:
        """A directory at `data://org/path` or `protocol+label://path`."""
        return DataDirectory(self._transport, address, self.chunk_size)

    def me(self) -> dict[str, Any]:
        """The caller's organization, user and token narrowing."""
        result: dict[str, Any] = self._transport.json("GET", "/v1/me")
        return result

    def connectors(self) -> list[dict[str, Any]]:
        """The kinds of connection the hub knows, with their parameter schemas."""
        return list(self._transport.json("GET", "/v1/connectors").get("connectors", []))

    def health(self) -> bool:
        """True when the hub answers `/healthz` with 200."""
        try:
            self._transport.send("GET", "/healthz")
        except ClientError:
            return False
        return True

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
