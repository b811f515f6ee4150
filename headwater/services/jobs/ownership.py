"""Which of a hub's worker processes drives jobs on the embedded cluster: in `serve --workers N`,
the one holding an exclusive lock on `jobs.lock` in the data dir. (With an external cluster every
process drives the jobs started through it; see `driver`.)

Only that process starts the jobs engine's drivers and its embedded Dask cluster (N clusters
would oversubscribe the machine); the others leave every job to it. When it exits, the kernel
releases the lock and one of the others takes it over within `TRY_EVERY` seconds, resuming the
jobs whose lease lapsed.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Callable
from pathlib import Path

TRY_EVERY = 1.0


class Ownership:
    """Waits for the lock in a thread and calls `on_owned` once it holds it; `stop` lets it go."""

    def __init__(self, path: Path, on_owned: Callable[[], None]) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._on_owned = on_owned
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._wait, name="headwater-jobs-owner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _take(self) -> bool:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _wait(self) -> None:
        while not self._stop.is_set():
            if self._take():
                self._on_owned()
                return
            self._stop.wait(TRY_EVERY)

    def stop(self) -> None:
        """Stop waiting, and release the lock if held (closing the file does)."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=TRY_EVERY + 1)
        os.close(self._fd)
