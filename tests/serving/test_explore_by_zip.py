"""The explorer reads a zip at a time from the bundle's Parquet: what the API keeps, that each
zip's answer is exactly its own rows wherever its row group lies, that bundles published with the
earlier whole tables still serve the same answers, and that a swapped-out bundle's files last as
long as its requests."""

import gc
import io
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from housing_core import bundle, explorer
from housing_core import contract as c
from housing_core.splits import HOLDOUT
from housing_serving.model_holder import ModelHolder
from tests.serving.conftest import make_client, republish

SMALL_GROUPS = 300  # rows: two or three of the tiny model's zips per row group


def _frames(store) -> dict[str, pd.DataFrame]:
    files = bundle.load(bundle.LocalStore(store)).files
    return {name: pd.read_parquet(io.BytesIO(files[name])) for name in bundle.EXPLORER_FILES}


def _publish(store, version: str, tables: dict[str, bytes]) -> None:
    local = bundle.LocalStore(store)
    kept = {
        k: v
        for k, v in bundle.load(local).files.items()
        if k not in (*bundle.EXPLORER_FILES, *bundle.EARLIER_EXPLORER_FILES)
    }
    bundle.publish(local, version, {**kept, **tables})


def _in_small_groups(store) -> None:
    frames = _frames(store)
    tables = {name: explorer.by_zip(frame, SMALL_GROUPS) for name, frame in frames.items()}
    _publish(store, "2022-01-v2", tables)


def _held(obj, seen: set[int] | None = None) -> list:
    """Every value the explorer keeps, through the housing_core objects it keeps."""
    seen = set() if seen is None else seen
    out = []
    for value in vars(obj).values():
        out.append(value)
        ours = type(value).__module__.startswith("housing_core") and hasattr(value, "__dict__")
        if ours and id(value) not in seen:
            seen.add(id(value))
            out += _held(value, seen)
    return out


def test_the_live_explorer_keeps_a_few_numbers_per_zip_not_every_zips_months(store, tiny):
    _in_small_groups(store)
    with make_client(store) as client:
        model = client.app.state.runtime.holder.current
        assert client.get("/v1/explore/map").status_code == 200  # its lazy parts built too
        zipcode = int(tiny.holdout["zipcode"].iloc[0])
        assert client.get("/v1/explore/series", params={"zipcode": zipcode}).status_code == 200
        held = _held(model.explorer)
    zips = tiny.splits["zipcode"].nunique()
    assert not [v for v in held if isinstance(v, pd.DataFrame | pd.Series | pa.Table)]
    assert max(len(v) for v in held if isinstance(v, np.ndarray)) == zips < len(tiny.splits)
    copies = model.published.files.copies
    assert set(copies) == set(bundle.EXPLORER_FILES)
    assert pq.read_metadata(copies[bundle.SERIES_BY_ZIP].file).num_row_groups > 5
    assert not set(bundle.EXPLORER_FILES) & set(model.published.files.held)


def _nan_is_none(values) -> list:
    return [None if v != v else float(v) for v in values]


def test_each_zip_reads_exactly_its_own_rows_whichever_row_group_holds_it(store, tiny):
    _in_small_groups(store)
    preds = tiny.holdout_predictions
    with make_client(store) as client:
        for zipcode, rows in tiny.splits.sort_values("date").groupby("zipcode"):
            points = client.get("/v1/explore/series", params={"zipcode": zipcode}).json()["points"]
            assert [p["month"] for p in points] == list(rows["date"].dt.strftime("%Y-%m"))
            assert [p["split"] for p in points] == list(rows["split"])
            assert [p["actual"] for p in points] == _nan_is_none(rows["price"])
            scored = preds[preds["zipcode"] == zipcode].sort_values("date")
            on_holdout = [p for p in points if p["split"] == HOLDOUT]
            for band in ("prediction", "lower_80", "upper_80", "lower_95", "upper_95"):
                assert [p[band] for p in on_holdout] == _nan_is_none(scored[band])
            assert all(p["prediction"] is None for p in points if p["split"] != HOLDOUT)
        for _, expected in tiny.holdout.sample(12, random_state=0).iterrows():
            month = expected["date"].strftime("%Y-%m")
            params = {"zipcode": int(expected["zipcode"]), "month": month}
            row = client.get("/v1/explore/row", params=params).json()
            assert row["date"] == expected["date"].strftime("%Y-%m-%d")
            for col in c.COLUMNS:
                if col in (c.DATE, c.CITY, c.CITY_FULL):
                    continue
                want = expected[col]
                assert (row[col] is None) if pd.isna(want) else row[col] == want, col


def _rounded(value):
    """An answer with its floats to 12 significant digits: means summed in another row order."""
    if isinstance(value, float):
        return float(f"{value:.12g}") if math.isfinite(value) else value
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items() if k != "model_version"}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def test_a_bundle_with_the_earlier_whole_tables_serves_the_same_answers(store, tiny):
    frames = _frames(store)
    series = frames[bundle.SERIES_BY_ZIP]
    # As publishers wrote them before: prices of every split, and the holdout rows with their
    # predictions, whole and in no zip order.
    history = series.drop(columns=explorer.SCORED).sample(frac=1, random_state=1)
    holdout = frames[bundle.HOLDOUT_BY_ZIP].sample(frac=1, random_state=2)
    metro = str(series["city"].iloc[0])
    zipcode = int(tiny.holdout["zipcode"].iloc[3])
    month = tiny.holdout["date"].iloc[3].strftime("%Y-%m")
    paths = [
        ("/v1/explore/catalog", {}),
        ("/v1/explore/errors", {}),
        ("/v1/explore/map", {}),
        ("/v1/explore/series", {"zipcode": zipcode}),
        ("/v1/explore/series", {"metro": metro}),
        ("/v1/explore/row", {"zipcode": zipcode, "month": month}),
    ]
    with make_client(store) as client:
        by_zip = [client.get(path, params=params).json() for path, params in paths]
    _publish(
        store,
        "2022-01-v0.earlier",
        {bundle.HISTORY: history.to_parquet(index=False), bundle.HOLDOUT: holdout.to_parquet()},
    )
    with make_client(store) as client:
        assert client.get("/v1/ready").json()["model_version"] == "2022-01-v0.earlier"
        earlier = [client.get(path, params=params).json() for path, params in paths]
    assert [_rounded(a) for a in earlier] == [_rounded(a) for a in by_zip]


def test_a_swapped_out_bundle_reads_its_own_files_until_its_last_request_ends(store, tiny):
    holder = ModelHolder(bundle.LocalStore(store))
    assert holder.refresh()
    serving = holder.current
    zipcode = int(tiny.holdout["zipcode"].iloc[0])
    before = serving.explorer.zip_series(zipcode)
    handles = [copy.file for copy in serving.published.files.copies.values()]
    assert handles and not any(h.closed for h in handles)

    republish(store, "2022-01-v2")
    assert holder.refresh() and holder.current.version == "2022-01-v2"
    # A request that took the old model before the swap still reads the old model's files.
    assert serving.explorer.zip_series(zipcode) == before
    assert not any(h.closed for h in handles)

    del serving
    gc.collect()
    assert all(h.closed for h in handles)
    assert holder.current.explorer.zip_series(zipcode) == before
