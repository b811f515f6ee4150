"""A worker process of `serve --workers N`: its app, and its tie to the supervisor that started it.

uvicorn's supervisor spawns each worker with this factory. A worker stops when the supervisor
ends by any means, SIGKILL included, so no worker keeps serving the port on its own.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal

from starlette.types import ASGIApp

from headwater.api.app import create_app
from headwater.api.s3.ports import with_s3
from headwater.settings import Settings

PR_SET_PDEATHSIG = 1


def stop_with_parent() -> None:
    """Ask Linux for SIGTERM when the supervisor ends (and stop now if it already has)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the supervisor still stops its workers on SIGINT/SIGTERM
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:
        os.kill(os.getpid(), signal.SIGTERM)


def create_worker_app(settings: Settings) -> ASGIApp:
    """The app of one worker: the supervisor's settings (its argument, never the environment), the
    store prepared by the supervisor; with `s3_port`, the S3 front door on that port too."""
    stop_with_parent()
    return with_s3(create_app(settings, worker=True), settings.s3_port)
