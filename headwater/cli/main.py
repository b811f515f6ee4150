"""The `headwater` command: global wiring, error handling, and the exit path.

API and local errors become one line on stderr and exit status 1, never a traceback.
`HeadwaterApp.__call__` is the one place the process ends: when obstore (a PyO3
extension with a known interpreter-shutdown race) was loaded, it flushes and leaves
with `os._exit` so a successful command always exits 0.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from headwater import __version__
from headwater.cli import audit, data, jobs, keys, secrets, serve, sources, systems, token
from headwater.cli.output import fail
from headwater.errors import HeadwaterError
from headwater.settings import SettingsError


def describe_os_error(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.filename}: {exc.strerror}"
    return str(exc) or type(exc).__name__


class HeadwaterGroup(TyperGroup):
    """Turns the hub's errors and local I/O errors into one-line messages and exit status 1."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader went away (`headwater cat ... | head`): stop quietly.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(0) from None
        except HeadwaterError as exc:
            fail(exc.message)
        except SettingsError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(describe_os_error(exc))


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    sys.stderr.write(f"{code}\n")
    return 1


def _leave(code: int) -> None:
    """Flush and end the process now, skipping interpreter shutdown (where obstore may abort)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


class HeadwaterApp(typer.Typer):
    """The console-script entry point; see the module docstring for why it may end with `os._exit`."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except SystemExit as exc:
            if "obstore" in sys.modules:
                _leave(_exit_code(exc.code))
            raise
        except BaseException:
            if "obstore" in sys.modules:
                sys.excepthook(*sys.exc_info())
                _leave(1)
            raise


app = HeadwaterApp(
    name="headwater",
    help="Headwater: a self-hosted data source hub. Remote commands use --url/--token or HEADWATER_URL/HEADWATER_TOKEN.",
    cls=HeadwaterGroup,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
    rich_markup_mode=None,  # plain help: flags read `--test`, not `--test <bool>`
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"headwater {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """Headwater: one address space and one streaming Data API over every data source."""


app.command("serve")(serve.serve)
app.add_typer(token.app, name="token")
app.add_typer(secrets.app, name="secrets")
app.add_typer(keys.app, name="keys")
app.add_typer(sources.app, name="sources")
app.add_typer(systems.app, name="systems")
app.add_typer(audit.app, name="audit")
app.add_typer(jobs.app, name="jobs")
data.register(app)


if __name__ == "__main__":
    app()
