# The hub's image, also run as the Dask scheduler and workers of deploy/compose.yaml (one image, so the
# hub and the cluster always carry the same versions of Headwater and Dask).
#
#   docker build -t headwater:0.1.0 .
#
# It runs as the unprivileged user `headwater` (uid 10001). That serves everything except `python`
# job apps: their sandbox needs bubblewrap (installed here) started as root, which then drops the
# user's function to HEADWATER_SANDBOX_UID (README, "Sandbox"). A hub not running as root refuses
# `python` jobs with a 409 naming bubblewrap and runs everything else; to accept them, run the hub
# and its Dask workers as root with the namespaces bubblewrap needs (deploy/compose.sandbox.yaml).
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends bubblewrap \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /tmp/headwater-src
COPY pyproject.toml README.md ./
COPY headwater ./headwater
RUN pip install --no-cache-dir . \
    && cd / && rm -rf /tmp/headwater-src

# The data dir (and the folder deploy/compose.yaml keeps the Dask TLS identity in) belong to the
# hub's user, so volumes mounted there start out writable by it.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/headwater --shell /usr/sbin/nologin headwater \
    && mkdir -p /var/lib/headwater /etc/headwater/dask-tls \
    && chown headwater:headwater /var/lib/headwater /etc/headwater/dask-tls \
    && chmod 0700 /var/lib/headwater /etc/headwater/dask-tls

ENV HEADWATER_DATA_DIR=/var/lib/headwater \
    PYTHONUNBUFFERED=1
WORKDIR /var/lib/headwater
USER headwater
EXPOSE 8000
CMD ["headwater", "serve", "--host", "0.0.0.0", "--port", "8000"]
