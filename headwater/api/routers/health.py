"""`GET /healthz`: 200 when the hub can reach its store."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from headwater.api.deps import HubDep

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Whether the hub can reach its metadata store")
def healthz(hub: HubDep) -> JSONResponse:
    if hub.store.ping():
        return JSONResponse({"status": "ok"})
    return JSONResponse({"status": "unavailable", "error": {"code": "store_unavailable", "message": "the metadata store cannot be reached"}}, status_code=503)
