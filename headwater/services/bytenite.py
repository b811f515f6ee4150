"""ByteNite's use cases that have no native twin, built on the native secrets and jobs services.

ByteNite's secrets are native secrets holding one value, `secretKey`; `aws` and `s3`
are one type, and deleting a secret under a type that does not fit it finds nothing.
Aborting a job that has not run yet deletes it, as ByteNite documents; a running one
is cancelled. Rights are decided by `services.authorization`, through those services.
"""

from __future__ import annotations

from headwater.errors import NotFound
from headwater.services import secrets as secrets_service
from headwater.services.context import Caller
from headwater.services.hub import Hub
from headwater.services.jobs import service as jobs_service
from headwater.services.jobs.spec import JobState

SAME_TYPES = frozenset({"aws", "s3"})
SECRET_KEY = "secretKey"


def create_secret(
    hub: Hub, caller: Caller, secret_id: str, fields: secrets_service.SecretFields, secret_key: str
) -> None:
    with hub.store.session() as session:
        secrets_service.create(session, hub.vault, caller, secret_id, fields, {SECRET_KEY: secret_key})


def delete_secret(hub: Hub, caller: Caller, secret_type: str, secret_id: str) -> None:
    """Delete a secret named with its type; a type that does not fit it is a secret that does not exist."""
    with hub.store.session() as session:
        secret = secrets_service.get(session, caller, secret_id)
        fits = secret.secret_type == secret_type or {secret.secret_type, secret_type} <= SAME_TYPES
        if not fits:
            raise NotFound(f"secret {secret_id!r} of type {secret_type!r} does not exist")
        secrets_service.delete(session, caller, secret_id)


def abort_job(hub: Hub, caller: Caller, job_id: str) -> bool:
    """Cancel a job; one not yet run is deleted instead (then True)."""
    if jobs_service.get(hub, caller, job_id).job.state == JobState.NEW.value:
        jobs_service.delete(hub, caller, job_id)
        return True
    jobs_service.cancel(hub, caller, job_id)
    return False
