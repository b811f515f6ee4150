"""A job's rights: two narrowed callers, one per side, derived and decided by `services.authorization`.

The source side reads: read-only, limited to the source's connection and to the
address prefix the job reads. The destination side writes: limited to the
destination's connection and folder. Each is never broader than the creator's own
token (its read-only flag, its sources, its prefix). No token value exists for them:
a job's caller is an identity rebuilt from ids stored with the job.
"""

from __future__ import annotations

from headwater import policy
from headwater.addresses import Address, join
from headwater.errors import InvalidInput
from headwater.services import authorization, data
from headwater.services.authorization import Action
from headwater.services.context import Caller
from headwater.services.hub import Hub
from headwater.services.jobs.selection import Selection
from headwater.services.jobs.spec import JobIdentity

PROBE = ".headwater-probe"


def side_caller(identity: JobIdentity, side: str) -> Caller:
    """The narrowed caller a job acts as on one side ("source" or "destination")."""
    source_id = identity.source_id if side == "source" else identity.destination_id
    base = Caller(
        org_id=identity.org_id,
        org_name=identity.org_name,
        user_id=identity.user_id,
        user_name=identity.user_name,
        token_id=identity.token_id,
    )
    return authorization.job_side(
        base,
        source_ids=(source_id,) if source_id else (),  # hosted data has no source id: no connection at all
        prefix=identity.source_prefix if side == "source" else identity.destination_prefix,
        read_only=side == "source",
    )


def prefix_of(address: Address) -> str:
    return str(Address(address.protocol, address.label, address.path, address.is_dir and bool(address.path)))


async def check(hub: Hub, creator: Caller, selection: Selection, destination: Address) -> JobIdentity:
    """Refuse at create time what the job could not do; return the job's narrowed identity."""
    authorization.require(creator, Action.RUN, "jobs")
    source_prefix = authorization.job_prefix(prefix_of(selection.base), creator)
    destination_prefix = authorization.job_prefix(prefix_of(destination), creator)
    probe = authorization.job_side(creator, source_ids=None, prefix=source_prefix, read_only=True)
    source = await data.open_target(hub, probe, selection.base)
    try:
        source.authorize(policy.Operation.LIST if selection.pattern is not None else policy.Operation.READ)
        if not source.rights.readable:
            source.authorize(policy.Operation.READ)  # an output-only kind can be listed, never read
    finally:
        await source.close()
    probe = authorization.job_side(creator, source_ids=None, prefix=destination_prefix, read_only=False)
    target = await data.open_target(hub, probe, destination)
    try:
        if target.address.hosted and not target.path:
            raise InvalidInput("hosted outputs live in a collection: data://ORG/COLLECTION/")
        target.authorize(policy.Operation.WRITE, join(target.path, PROBE))
    finally:
        await target.close()
    if source.address.connection == target.address.connection and _overlap(selection, source.path, target.path):
        raise InvalidInput("the destination folder overlaps the source: write the outputs somewhere else")
    return JobIdentity(
        org_id=creator.org_id,
        org_name=creator.org_name,
        user_id=creator.user_id,
        user_name=creator.user_name,
        token_id=creator.token_id,
        source_prefix=source_prefix,
        destination_prefix=destination_prefix,
        source_ids=tuple(i for i in (source.source_id, target.source_id) if i),
        source_id=source.source_id,
        destination_id=target.source_id,
    )


def _overlap(selection: Selection, source: str, destination: str) -> bool:
    """Whether outputs could land where the job reads: the same folder, or below a recursive source."""
    source, destination = source.rstrip("/"), destination.rstrip("/")
    if selection.pattern is None:
        return destination == (source.rsplit("/", 1)[0] if "/" in source else "")
    if destination == source:
        return True
    return selection.recursive and (source == "" or destination.startswith(source + "/"))
