"""`python -m headwater.cli`: the same as the `headwater` console script."""

from headwater.cli.main import app

if __name__ == "__main__":  # not when a `serve --workers` process is spawned
    app()
