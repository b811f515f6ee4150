"""The Python SDK: talks to a hub over HTTP only (see `Client`)."""

from headwater.client.data import DataDirectory, DataFile, Download, Entry, FileInfo
from headwater.client.errors import (
    ClientError,
    ConflictError,
    HubUnreachableError,
    InvalidInputError,
    NotFoundError,
    NotSupportedError,
    PayloadTooLargeError,
    PermissionDeniedError,
    SecretExpiredError,
    UnauthenticatedError,
    UpstreamError,
)
from headwater.client.sdk import Client

__all__ = [
    "Client",
    "ClientError",
    "ConflictError",
    "DataDirectory",
    "DataFile",
    "Download",
    "Entry",
    "FileInfo",
    "HubUnreachableError",
    "InvalidInputError",
    "NotFoundError",
    "NotSupportedError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "SecretExpiredError",
    "UnauthenticatedError",
    "UpstreamError",
]
