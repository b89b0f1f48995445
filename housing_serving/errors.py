"""The error envelope: every error the API answers is `{"detail": [{row, field, message}]}`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from housing_serving.schemas import ErrorResponse
from housing_serving.service import InputError

# What each error answer means to a caller, for the OpenAPI entries of the routes that give it.
MEANING = {
    401: "The X-API-Key header is missing or wrong.",
    403: "Admin routes are disabled: the server has no API key configured.",
    404: "Nothing of that name is published (the message says what is missing).",
    408: "The request body did not arrive completely in time.",
    413: "Too many rows, or a body too large (the message gives the limit).",
    415: "The body is not sent as JSON.",
    422: "The input breaks the data contract: the message names the row and field.",
    503: "No model is serving yet, or the server is at capacity (retry after Retry-After).",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The error answers a route can give, each in the envelope, for its OpenAPI entry."""
    return {code: {"model": ErrorResponse, "description": MEANING[code]} for code in codes}


def error_response(
    status: int,
    message: str,
    row: int | None = None,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"detail": [{"row": row, "field": field, "message": message}]},
        headers=headers,
    )


def validation_details(errors: list[dict], limit: int = 50) -> list[dict]:
    """pydantic errors -> envelope entries naming the request row and field."""
    details = []
    for err in errors[:limit]:
        loc = [p for p in err.get("loc", ()) if p != "body"]
        row = (
            next((p for p in loc[1:2] if isinstance(p, int)), None) if loc[:1] == ["rows"] else None
        )
        field = str(loc[-1]) if loc and not isinstance(loc[-1], int) else None
        where = f"row {row}: " if row is not None else ""
        details.append(
            {"row": row, "field": field, "message": f"{where}{field or 'body'}: {err['msg']}"}
        )
    return details


async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": validation_details(list(exc.errors()))})


async def _out_of_contract(_request: Request, exc: InputError) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": exc.details})


async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    return error_response(exc.status_code, str(exc.detail), headers=exc.headers)


def install(app: FastAPI) -> None:
    # Starlette types handlers as taking any Exception; each of these takes the one it is for.
    app.add_exception_handler(RequestValidationError, _invalid)  # type: ignore[arg-type]
    app.add_exception_handler(InputError, _out_of_contract)  # type: ignore[arg-type]
    # Starlette's own (an unknown path's 404, a wrong method's 405) get the same envelope.
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
