"""The promotion gate's verdicts: every trained model the gate judged, promoted or rejected."""

from __future__ import annotations

import json

from fastapi import APIRouter

from housing_core import verdicts
from housing_serving.deps import RuntimeDep
from housing_serving.routes.monitoring import UNREADABLE, _why

router = APIRouter(prefix="/v1", tags=["monitoring"])
FIELDS = ("vintage", "model_version", "verdict", "reasons", "notes", "model_mape", "champion")


@router.get("/gate")
def gate_verdicts(rt: RuntimeDep) -> dict:
    """Every gate verdict, oldest first: the vintage and registered model version, promoted or
    rejected, and why. A rejected model never becomes a bundle, so `/v1/models` cannot show it;
    a run that crashed before the gate has no verdict at all. A record that cannot be read is
    listed under `unreadable` with the reason."""
    out, unreadable = [], []
    for key in rt.holder.store.list(f"reports/{verdicts.PREFIX}"):
        if not key.endswith(".json"):
            continue
        try:
            doc = json.loads(rt.holder.store.read(key))
            entry = {name: doc[name] for name in FIELDS} | {
                "decided_at": str(doc["decided_at"]),
                "run_id": doc.get("run_id"),
            }
            if entry["verdict"] not in (verdicts.PROMOTED, verdicts.REJECTED):
                raise ValueError(f"verdict {entry['verdict']!r} is neither promoted nor rejected")
        except UNREADABLE as exc:
            unreadable.append({"record": key.rsplit("/", 1)[-1], "error": _why(exc)})
            continue
        out.append(entry)
    return {"verdicts": sorted(out, key=lambda r: r["decided_at"]), "unreadable": unreadable}
