"""The metadata store: SQLAlchemy models, Alembic migrations and the engine."""
