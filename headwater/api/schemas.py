"""The base of every request and response model: camelCase on the wire, unknown fields refused."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Deleted(ApiModel):
    deleted: str


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorOut(BaseModel):
    """Every error: `{"error": {"code", "message"}}`."""

    error: ErrorBody


ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in [
        (400, "Invalid input: the message names the field or path"),
        (401, "No token, or not a valid one"),
        (403, "Not allowed: the message names the rule"),
        (404, "Not found (also for anything of another organization)"),
        (405, "The kind cannot do this"),
        (409, "Conflict with the current state"),
        (413, "Request body too large"),
        (502, "The backend failed"),
        (503, "The audit trail or the store is unavailable"),
        (504, "The backend timed out"),
    ]
}
