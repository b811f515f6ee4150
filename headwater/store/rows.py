"""Row writes that race safely between replicas of one store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_once(session: Session, model: type[Any], values: dict[str, Any]) -> bool:
    """Insert a row of `model` unless one with its primary key exists; True if this call inserted it.

    A concurrent creator wins without an error (`ON CONFLICT DO NOTHING`, on PostgreSQL and SQLite alike).
    """
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    key = list(inspect(model).primary_key)
    statement = dialect.insert(model).values(**values).on_conflict_do_nothing().returning(*key)
    return session.execute(statement).first() is not None
