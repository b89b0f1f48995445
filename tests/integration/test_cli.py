"""The README's main command, as a user runs it: a subprocess on a fresh HOUSING_HOME."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


def _housing(args, home: Path, **env):
    environment = {**os.environ, "HOUSING_HOME": str(home), **env}
    environment.pop("DAGSTER_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "housing_assets.cli", *args],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_housing_run_goes_from_data_to_a_published_bundle_and_says_where_results_are(tmp_path):
    proc = _housing(["run", "--scale", "0.01", "--trials", "2"], tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "[1/4] source: synthetic(seed=7, scale=0.01)" in out
    assert "142 month(s) 2012-03..2023-12 (142 new partitions)" in out
    assert "142 month(s) ingested and cleaned" in out
    assert "[4/4] model lineage for vintage 2022-01" in out
    assert (
        "holdout (2022-01 on): MAPE" in out
        and "persistence MAPE" in out
        and "interval coverage" in out
    )
    assert f"bundle:   {tmp_path / 'serving' / 'bundles' / '2022-01-v1'} (current" in out
    assert (tmp_path / "serving" / "current").read_text() == "2022-01-v1"
    assert str(tmp_path / "data") in out and "housing dev" in out and "housing mlflow" in out
    cleaned = sorted((tmp_path / "data" / "cleaned_monthly").glob("*.parquet"))
    assert len(cleaned) == 142
    assert len(pd.read_parquet(cleaned[0])) > 0
    assert (tmp_path / "dagster" / "history" / "runs.db").exists()
    # Second run: same months are known partitions now, nothing new registered.
    again = _housing(["run", "--scale", "0.01", "--months", "2023", "--no-train"], tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "12 month(s) 2023-01..2023-12 (0 new partitions)" in again.stdout


@pytest.mark.slow
def test_housing_run_on_monthly_files_with_broken_months_exits_nonzero_and_names_them(tmp_path):
    """A careless delivery: a row filed in the wrong month, a second file for one month (a copy
    with prices x10), a file without newlines, and a misnamed file. Each bad month is quarantined
    naming its file(s); the misnamed file is ignored with its reason; the other months land."""
    landing = tmp_path / "landing"
    gen = _housing(
        ["generate", "--out", str(landing), "--scale", "0.01", "--format", "csv"], tmp_path
    )
    assert gen.returncode == 0, gen.stderr
    assert len(list(landing.glob("*.csv"))) == 142
    broken = landing / "2016-05.csv"
    frame = pd.read_csv(broken)
    frame.loc[0, "date"] = "2016-07-31"  # a row filed in the wrong month
    frame.to_csv(broken, index=False)
    copy = pd.read_csv(landing / "2016-08.csv")
    copy["price"] *= 10
    copy.to_csv(landing / "housets_2016-08.csv", index=False)
    (landing / "2016-10.csv").write_bytes(b"date," + b"9" * 200_000)  # no newline at all
    (landing / "2016-13.csv").write_bytes((landing / "2016-11.csv").read_bytes())
    proc = _housing(
        ["run", "--source", str(landing), "--months", "2016", "--no-train", "--no-wait"],
        tmp_path / "home",
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAILED   2016-05 quarantined" in proc.stdout
    assert "date_month == partition_month" in proc.stdout
    assert "FAILED   2016-08 quarantined" in proc.stdout
    assert "month 2016-08 has 2 files (2016-08.csv, housets_2016-08.csv)" in proc.stdout
    assert "FAILED   2016-10 quarantined" in proc.stdout
    assert "a line longer than 64 KB" in proc.stdout
    assert "ignored 2016-13.csv: '2016-13' is not a month (MM must be 01-12)" in (proc.stdout)
    assert "9 month(s) ingested and cleaned" in proc.stdout
    cleaned = {p.stem for p in (tmp_path / "home" / "data" / "cleaned_monthly").glob("*.parquet")}
    assert cleaned.isdisjoint({"2016-05", "2016-08", "2016-10"}) and len(cleaned) == 9


def test_months_that_cannot_train_the_vintage_are_refused_before_any_work(tmp_path):
    """`--months 2019` alone trained nothing: it failed after ingest with a traceback."""
    proc = _housing(["run", "--scale", "0.01", "--months", "2019"], tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == (
        "error: vintage 2022-01 needs months in every split, and --months 2019 (with what is "
        "ingested) leaves eval (2020-01..2021-12) and holdout (from 2022-01) empty: add those "
        "months, or ingest only with --no-train"
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (tmp_path / "data").exists()  # nothing was ingested


def test_generate_single_file_is_the_published_layout(tmp_path):
    target = tmp_path / "housets.csv"
    proc = _housing(
        ["generate", "--out", str(target), "--single-file", "--scale", "0.01"], tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    header = target.read_text().splitlines()[0]
    assert header.startswith("date,median_sale_price,") and header.endswith(",price,city_full")
