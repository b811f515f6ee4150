"""A tiny stand-in for a package of user functions, shown to `python` job apps through HEADWATER_SANDBOX_PATH."""
