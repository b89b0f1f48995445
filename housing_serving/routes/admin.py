"""Operator actions, behind the admin key."""

from __future__ import annotations

from fastapi import APIRouter

from housing_serving.deps import Admin, RuntimeDep
from housing_serving.errors import errors as answers

router = APIRouter(
    prefix="/v1/admin",
    tags=["ops"],
    dependencies=[Admin],
    responses=answers(401, 403),
)


@router.post("/reload")
def reload(rt: RuntimeDep) -> dict:
    """Follow the store's `current` pointer now (API key in the X-API-Key header)."""
    swapped = rt.refresh()
    current = rt.holder.current.version if rt.holder.current else None
    return {"swapped": swapped, "model_version": current, "error": rt.holder.last_error}
