"""Connectors: one module per kind family, behind the interface in `base.py`."""
