"""The use cases. Every request's rights are decided here, never in `api/`."""
