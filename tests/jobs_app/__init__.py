"""A tiny installed-package stand-in for `python` job apps."""
