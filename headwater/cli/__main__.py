"""`python -m headwater.cli`: the same as the `headwater` console script."""

from headwater.cli.main import app

app()
