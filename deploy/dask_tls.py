"""Write the Dask cluster's TLS identity for deploy/compose.yaml: one certificate and its key, in DIR.

The scheduler, both workers and every hub replica present this certificate and trust only it
(`ca.pem` is the same self-signed certificate), so nothing without the key joins the cluster or
submits work to it. An identity already in DIR is kept, so restarts do not split the cluster.

    python dask_tls.py /etc/headwater/dask-tls
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from distributed.security import Security


def write(folder: Path) -> None:
    names = {"ca.pem": "tls_ca_file", "cert.pem": "tls_client_cert", "key.pem": "tls_client_key"}
    if all((folder / name).is_file() for name in names):
        print(f"keeping the Dask TLS identity in {folder}")
        return
    identity = Security.temporary()  # a self-signed certificate for every role of the cluster, valid a year
    for name, attribute in names.items():
        path = folder / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(getattr(identity, attribute))
    print(f"wrote a new Dask TLS identity to {folder}")


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "/etc/headwater/dask-tls"))
