"""`housing export-rows`: ingested HouseTS rows as a CSV that `POST /v1/predict/csv` takes.

The API docs' CSV example needs a file in the request's layout; this writes one from the cleaned
months of HOUSING_HOME (local or, in prod, HOUSING_DATA_URI): the contract's columns in the
published order, an `id` per row (`<zipcode>-<YYYY-MM>`), dates as YYYY-MM-DD and a missing
value as an empty cell (null)."""

from __future__ import annotations

import io
from pathlib import Path

from housing_assets.cli.common import CliError, say, settings_for

CLEANED = "cleaned_monthly"


def cmd_export_rows(args) -> int:
    import pandas as pd

    from housing_core import contract as c
    from housing_core.storage import store_for

    settings = settings_for(args)
    store = store_for(settings.data_location)
    stored = {Path(k).stem: k for k in store.list(f"{CLEANED}/") if k.endswith(".parquet")}
    if not stored:
        raise CliError(
            f"nothing is ingested in {store.describe()}: run `housing run --no-train` first"
        )
    month = args.month or max(stored)
    if month not in stored:
        raise CliError(
            f"--month {month} is not ingested (cleaned months: {min(stored)}..{max(stored)}): "
            f"pick one of them, or leave --month out for the latest"
        )
    frame = pd.read_parquet(io.BytesIO(store.read(stored[month])))
    if args.zip:
        wanted = args.zip
        absent = sorted(set(wanted) - set(frame[c.ZIPCODE]))
        if absent:
            raise CliError(
                f"--zip {','.join(map(str, absent))}: not in {month} "
                f"(it has {frame[c.ZIPCODE].nunique():,} zip codes, e.g. {frame[c.ZIPCODE].iloc[0]})"
            )
        frame = frame[frame[c.ZIPCODE].isin(wanted)]
    rows = frame.sort_values(c.ZIPCODE).head(args.n)[c.COLUMNS]
    rows.insert(0, "id", [f"{c.format_zip(z)}-{month}" for z in rows[c.ZIPCODE]])
    rows[c.DATE] = rows[c.DATE].dt.strftime("%Y-%m-%d")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows.to_csv(out, index=False)
    say(f"wrote {len(rows):,} row(s) of {month} to {out} (the columns /v1/predict/csv takes)")
    return 0
