"""Request rows against the contract (range rules -> 422 details) and the predictor's answer
shaped as the API returns it; the scoring itself is `Predictor.predict_raw`."""

from __future__ import annotations

from housing_core import anchors as A
from housing_core import contract as c
from housing_core import features as F
from housing_core.published import PublishedModel

# The range rule lives below the API (the registered MLflow model applies it too), re-exported
# where the routes, the CSV intake and the error handlers take it from.
from housing_core.ranges import InputError as InputError
from housing_core.ranges import check_ranges as check_ranges

BASELINE_FLAG = "persistence"  # the row is answered by its zip's last price, not the model


def score(
    model: PublishedModel, raw: F.Rows, ids: list, explain: bool, baseline: bool = False
) -> list[dict]:
    """The predictor's answer for each row, shaped as the API's `Prediction`. With `baseline`
    (the model lost to persistence live and the policy falls back), a row with zip history is
    answered by persistence, its bands the model's moved with it (their coverage holds for the
    model, not for persistence), flagged; a row without history has no persistence to give."""
    scored = model.predictor.predict_raw(raw, explain=explain)
    contributions = scored.get("contributions")
    anchor_month = [A.month_key(m) if m >= 0 else None for m in scored["anchor_month"].tolist()]
    horizon = [None if h != h else int(h) for h in scored["horizon"].tolist()]
    prediction = scored["prediction"].tolist()
    lo80, hi80 = scored["lower_80"].tolist(), scored["upper_80"].tolist()
    lo95, hi95 = scored["lower_95"].tolist(), scored["upper_95"].tolist()
    unseen_zip, unseen_metro = scored["unseen_zip"].tolist(), scored["unseen_metro"].tolist()
    anchor_price = scored["anchor_price"].tolist() if baseline else []
    actual = raw.column(c.TARGET).tolist()
    out = []
    for i, p in enumerate(prediction):
        flags = ["unseen_zip"] * unseen_zip[i] + ["unseen_metro"] * unseen_metro[i]
        move = 1.0
        if baseline and anchor_month[i] is not None:
            move = anchor_price[i] / p
            p = anchor_price[i]
            flags.append(BASELINE_FLAG)
        item = {
            "id": ids[i],
            "row": i,
            "prediction": p,
            "interval_80": (lo80[i] * move, hi80[i] * move),
            "interval_95": (lo95[i] * move, hi95[i] * move),
            "flags": flags,
            "anchor_month": anchor_month[i],
            "horizon": horizon[i],
        }
        a = actual[i]
        if a == a:  # not NaN: the caller sent the price
            item.update(actual=a, error=p - a, abs_pct_error=abs(p - a) / a * 100)
        else:  # every key always present: one response shape for clients
            item.update(actual=None, error=None, abs_pct_error=None)
        item["contributions"] = contributions[i] if contributions is not None else None
        out.append(item)
    return out
