"""Health: `/healthz/live` (the process answers), `/healthz/ready` (it can serve) and `/healthz` (the store answers).

Orchestrators restart a replica that is not live and send traffic only to one that is ready.
All three are public and read nothing of any organization.
"""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from headwater.api.deps import HubDep
from headwater.services import readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Whether the hub can reach its metadata store")
def healthz(hub: HubDep) -> JSONResponse:
    if hub.store.ping():
        return JSONResponse({"status": "ok"})
    return JSONResponse(
        {
            "status": "unavailable",
            "error": {"code": "store_unavailable", "message": "the metadata store cannot be reached"},
        },
        status_code=503,
    )


@router.get("/healthz/live", summary="Whether the hub process answers (a liveness probe: it touches nothing else)")
async def live() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get(
    "/healthz/ready", summary="Whether the hub can serve: store reachable, migrations at head, storage writable"
)
async def ready(hub: HubDep) -> JSONResponse:
    state = await readiness.check(hub)
    checks = {"store": state.store, "migrations": state.migrations, "storage": state.storage}
    if state.ready:
        return JSONResponse({"status": "ok", "checks": checks})
    message = "not ready: " + "; ".join(state.problems)
    return JSONResponse(
        {"status": "unavailable", "checks": checks, "error": {"code": "not_ready", "message": message}}, status_code=503
    )
