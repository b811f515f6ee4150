"""Headwater: a self-hosted data source hub.

One address space (`protocol+label://path`, `data://org/path`) and one streaming
Data API over every registered connection, with credentials kept as secrets.
"""

from typing import TYPE_CHECKING, Any

__all__ = ["Client", "__version__"]
__version__ = "0.1.0"

if TYPE_CHECKING:
    from headwater.client.sdk import Client


def __getattr__(name: str) -> Any:
    # The SDK is imported lazily so that `import headwater` on the server pulls in no client code.
    if name == "Client":
        from headwater.client.sdk import Client

        return Client
    raise AttributeError(name)
