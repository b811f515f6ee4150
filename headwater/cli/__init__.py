"""The `headwater` command line (typer + rich); the entry point is `headwater.cli.main:app`."""
