"""`hostile:*`: user functions that try to leave the sandbox, and one that reports what it can see."""

from __future__ import annotations

import json
import os
import socket
import time
from typing import BinaryIO


def read(source: BinaryIO, sink: BinaryIO, path: str) -> None:
    """Copies a file of the hub's machine into the output (the data dir's master.key, /proc/1/environ...)."""
    source.read()
    with open(path, "rb") as file:
        sink.write(file.read())


def parent_environment(source: BinaryIO, sink: BinaryIO) -> None:
    """Copies its parent process's environment into the output."""
    source.read()
    with open(f"/proc/{os.getppid()}/environ", "rb") as file:
        sink.write(file.read())


def connect(source: BinaryIO, sink: BinaryIO, host: str, port: int) -> None:
    """Opens a TCP connection (to the hub's own API, say) and writes what it answers."""
    source.read()
    with socket.create_connection((host, port), timeout=5) as conn:
        conn.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
        sink.write(conn.recv(4096))


def fork_bomb(source: BinaryIO, sink: BinaryIO) -> None:
    """Forks without bound; every child sleeps, so the processes pile up until something stops them."""
    source.read()
    while True:
        if os.fork() == 0:
            time.sleep(3600)
            os._exit(0)


def spin(source: BinaryIO, sink: BinaryIO) -> None:
    """Burns CPU forever."""
    source.read()
    while True:
        pass


def sleep(source: BinaryIO, sink: BinaryIO) -> None:
    """Never returns, using no CPU."""
    source.read()
    time.sleep(3600)


def allocate(source: BinaryIO, sink: BinaryIO, mebibytes: int) -> None:
    """Allocates and touches memory."""
    source.read()
    block = bytearray(mebibytes * 1024 * 1024)
    sink.write(bytes(block[:1]))


def write_big_file(source: BinaryIO, sink: BinaryIO, mebibytes: int) -> None:
    """Writes a file in its /tmp."""
    source.read()
    with open("/tmp/big", "wb") as file:
        for _ in range(mebibytes):
            file.write(b"\0" * 1024 * 1024)


def whoami(source: BinaryIO, sink: BinaryIO) -> None:
    """Reports its identity and view as JSON: ids, capabilities, root folder, processes, network interfaces."""
    with open("/proc/self/status") as handle:
        status = dict(line.split(":\t", 1) for line in handle.read().splitlines() if ":\t" in line)
    report = {
        "input": len(source.read()),
        "uid": os.getuid(),
        "euid": os.geteuid(),
        "gid": os.getgid(),
        "groups": os.getgroups(),
        "capabilities": {k: status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")},
        "no_new_privs": status.get("NoNewPrivs", "").strip(),
        "root": sorted(os.listdir("/")),
        "processes": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "interfaces": [name for _, name in socket.if_nameindex()],
        "environment": sorted(os.environ),
    }
    sink.write(json.dumps(report).encode())
