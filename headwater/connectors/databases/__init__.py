"""Database kinds: `postgres` and `mysql` (MariaDB too). Importing the package registers them."""

from headwater.connectors.databases import mysql, postgres

__all__ = ["mysql", "postgres"]
