"""Landing rules: one file per month (two -> an error naming both, nothing ingested), month names
validated, and every monthly file read at a bounded cost (too large, a decompression bomb, or no
newlines -> that month fails fast, named, while the other months load)."""

import datetime as dt
import gzip
import io
import tracemalloc

import pandas as pd
import pytest

from housing_core import contract as c
from housing_core.sources import FilePanelSource, Landing, LandingLimits, S3PanelSource
from tests.conftest import frames_by_month

TODAY = dt.date(2026, 12, 2)


@pytest.fixture
def landing(tmp_path, small_panel):
    folder = tmp_path / "landing"
    folder.mkdir()
    for month, frame in list(frames_by_month(small_panel).items())[-6:]:  # 2023-07..2023-12
        frame.to_csv(folder / f"{month}.csv", index=False)
    return folder


def reason(load) -> str:
    return c.unreadable_reason(load.frame) or ""


def test_two_files_for_one_month_fail_that_month_naming_both(landing):
    copy = pd.read_csv(landing / "2023-09.csv")
    copy["price"] *= 10  # a x10-priced copy once passed every check, picked by sort order
    copy.to_parquet(landing / "housets_2023-09.parquet", index=False)
    source = FilePanelSource(landing)
    before = source.fingerprints()
    assert "2023-09" in source.months()
    loads = source.load_months(["2023-08", "2023-09"])
    assert reason(loads["2023-08"]) == ""
    assert reason(loads["2023-09"]) == (
        f"{landing}: month 2023-09 has 2 files (2023-09.csv, housets_2023-09.parquet); nothing "
        "was ingested for 2023-09: keep exactly one and it lands on the next run"
    )
    assert loads["2023-09"].frame.empty
    (landing / "housets_2023-09.parquet").unlink()
    after = source.fingerprints()
    assert after["2023-09"] != before["2023-09"]  # resolving it is a change the sensor sees
    assert {m: v for m, v in after.items() if m != "2023-09"} == {
        m: v for m, v in before.items() if m != "2023-09"
    }
    assert reason(source.load_months(["2023-09"])["2023-09"]) == ""


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("2023-13.csv", "'2023-13' is not a month (MM must be 01-12)"),
        ("2023-00.parquet", "'2023-00' is not a month (MM must be 01-12)"),
        ("1899-05.csv", "'1899-05' is before 1990"),
        ("2027-01.csv", "'2027-01' is in the future (today is 2026-12)"),
        ("prices.csv.gz", "no YYYY-MM month in its name (e.g. 2012-03.csv)"),
        ("2023-7.csv", "no YYYY-MM month in its name (e.g. 2012-03.csv)"),
    ],
)
def test_month_names_are_validated(name, why):
    index = Landing.index(["2023-06.csv", name, "README.md", ".DS_Store"], today=TODAY)
    assert index.months() == ["2023-06"]
    assert index.refused == [f"{name}: {why}"]


@pytest.mark.parametrize("name", ["2023-08.CSV", "2023-08.xlsx", "2023-08.csv.zip", "2023-8.tsv"])
def test_a_month_file_in_a_format_not_read_is_refused_not_dropped(name):
    """Such a file used to vanish without a line: only the table suffixes were looked at."""
    index = Landing.index(["2023-06.csv", name], today=TODAY)
    assert index.months() == ["2023-06"]
    assert index.refused == [
        f"{name}: named for a month, but not a table this platform reads "
        "(a month is .csv / .csv.gz / .parquet, in lower case)"
    ]


def test_every_entry_of_a_landing_directory_is_taken_refused_or_listed_as_not_data(landing):
    (landing / "README.md").write_text("monthly HouseTS deliveries")
    (landing / ".DS_Store").write_bytes(b"\0")
    (landing / "archive").mkdir()
    (landing / "2023-08.CSV").write_bytes((landing / "2023-08.csv").read_bytes())
    source = FilePanelSource(landing)
    entries = {p.name for p in landing.iterdir()}
    taken = {f"{month}.csv" for month in source.months()}
    accounted = taken | {
        line.split(":", 1)[0].removesuffix("/") for line in source.refused() + source.not_data()
    }
    assert accounted == entries
    assert source.not_data() == [
        "archive/: a folder (month files are read from the landing area itself)",
        ".DS_Store: a hidden file",
        "README.md: not a table (.csv / .csv.gz / .parquet)",
    ]
    assert [r.split(":")[0] for r in source.refused()] == ["2023-08.CSV"]


def test_a_misnamed_file_is_listed_and_the_rest_load(landing):
    (landing / "2023-19.csv").write_bytes((landing / "2023-08.csv").read_bytes())
    source = FilePanelSource(landing)
    assert source.months() == [f"2023-{m:02d}" for m in range(7, 13)]
    assert source.refused() == ["2023-19.csv: '2023-19' is not a month (MM must be 01-12)"]
    assert "2023-19" not in source.fingerprints()


def _peak_mb(fn):
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_a_file_without_newlines_fails_after_one_block(landing):
    (landing / "2023-10.csv").write_bytes(b"date,price," + b"7" * (40 << 20))  # 40 MB, one line
    source = FilePanelSource(landing)
    loads, peak = _peak_mb(lambda: source.load_months(["2023-10", "2023-11"]))
    assert reason(loads["2023-10"]) == (
        f"{landing / '2023-10.csv'}: a line longer than 64 KB within the first 1,048,576 bytes "
        "(a HouseTS row is ~300 bytes): not a row-per-line CSV; not read"
    )
    assert reason(loads["2023-11"]) == ""
    assert peak < 12, f"{peak:.1f} MB traced to refuse a 40 MB line"


def test_an_oversized_file_fails_its_month(landing):
    limits = LandingLimits(max_file_bytes=1 << 20)
    frame = pd.read_csv(landing / "2023-10.csv")
    pd.concat([frame] * 100).to_csv(landing / "2023-10.csv", index=False)  # > 1 MB, valid rows
    loads = FilePanelSource(landing, limits).load_months(["2023-10", "2023-11"])
    assert reason(loads["2023-10"]).startswith(f"{landing / '2023-10.csv'}: larger than 1 MB")
    assert reason(loads["2023-11"]) == ""


@pytest.mark.slow
def test_a_gzip_bomb_is_stopped_at_the_limit(landing):
    limits = LandingLimits(max_file_bytes=8 << 20)
    line = b"2023-10-31," + b"1," * 30 + b"\n"
    with gzip.open(landing / "2023-10.csv.gz", "wb") as out:
        for _ in range((400 << 20) // len(line)):  # 400 MB of rows in ~1 MB of gzip
            out.write(line)
    (landing / "2023-10.csv").unlink()
    source = FilePanelSource(landing, limits)
    loads, peak = _peak_mb(lambda: source.load_months(["2023-10"]))
    assert reason(loads["2023-10"]).startswith(f"{landing / '2023-10.csv.gz'}: larger than 8 MB")
    assert peak < 40, f"{peak:.1f} MB traced to refuse a 400 MB bomb"


def test_an_oversized_parquet_fails_before_it_is_read(landing):
    frame = pd.read_csv(landing / "2023-10.csv")
    (landing / "2023-10.csv").unlink()
    frame.to_parquet(landing / "2023-10.parquet", index=False)
    tight = LandingLimits(max_file_bytes=1 << 10)
    loads = FilePanelSource(landing, tight).load_months(["2023-10"])
    assert "(a month of HouseTS is ~2 MB); not read" in reason(loads["2023-10"])
    fine = FilePanelSource(landing).load_months(["2023-10"])["2023-10"]
    assert reason(fine) == "" and len(fine.frame) == len(frame)


class _Listing:
    """The three S3 calls the source makes, over an in-memory bucket; the real-server version of
    these rules is tests/cloud/test_s3_landing.py."""

    def __init__(self, objects: dict[str, bytes]):
        self.objects, self.downloaded = objects, []

    def get_paginator(self, _name):
        objects = self.objects

        class Paginator:
            def paginate(self, Bucket, Prefix):
                keys = sorted(k for k in objects if k.startswith(Prefix))
                return [
                    {
                        "Contents": [
                            {"Key": k, "ETag": f'"{k}"', "Size": len(objects[k])} for k in keys
                        ]
                    }
                ]

        return Paginator()

    def get_object(self, Bucket, Key):
        self.downloaded.append(Key)
        return {"Body": io.BytesIO(self.objects[Key])}


def test_s3_prefix_follows_the_same_rules(landing):
    good = (landing / "2023-11.csv").read_bytes()
    client = _Listing(
        {
            "in/2023-11.csv": good,
            "in/2023-12.csv": good.replace(b"2023-11-30", b"2023-12-31"),
            "in/copy/2023-12.csv": good,
            "in/2023-10.csv": good * 4,
            "in/2023-14.csv": good,
        }
    )
    source = S3PanelSource("s3://b/in/", client, LandingLimits(max_file_bytes=len(good) * 2))
    assert source.months() == ["2023-10", "2023-11", "2023-12"]
    assert source.refused() == ["in/2023-14.csv: '2023-14' is not a month (MM must be 01-12)"]
    loads = source.load_months(["2023-10", "2023-11", "2023-12"])
    assert reason(loads["2023-11"]) == ""
    assert "month 2023-12 has 2 files (in/2023-12.csv, in/copy/2023-12.csv)" in reason(
        loads["2023-12"]
    )
    assert reason(loads["2023-10"]).endswith("(a month of HouseTS is ~2 MB); not downloaded")
    assert client.downloaded == ["in/2023-11.csv"]  # neither the duplicate nor the big one
