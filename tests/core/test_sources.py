import io

import pandas as pd
import pytest

from housing_core import contract as c
from housing_core.contract import unreadable_reason
from housing_core.sources import (
    FilePanelSource,
    S3PanelSource,
    SyntheticPanelSource,
)
from housing_core.synthetic import SyntheticSpec
from tests.conftest import PUBLISHER_LACKS, frames_by_month, publisher_layout


def _write_monthly(panel, folder, fmt):
    folder.mkdir()
    for month, frame in frames_by_month(panel).items():
        if fmt == "csv":
            frame.to_csv(folder / f"{month}.csv", index=False)
        else:
            frame.to_parquet(folder / f"housets_{month}.parquet", index=False)


def test_synthetic_source_months_and_rows():
    source = SyntheticPanelSource(SyntheticSpec(seed=3, scale=0.01))
    months = source.months()
    assert months[0] == "2012-03" and months[-1] == "2023-12" and len(months) == 142
    loaded = source.load_months(["2020-05"])["2020-05"]
    assert loaded.problems == []
    assert (loaded.frame["date"] == pd.Timestamp("2020-05-31")).all()


def test_single_csv_file_round_trip(tmp_path, small_panel):
    path = tmp_path / "housets.csv"
    small_panel.to_csv(path, index=False)
    source = FilePanelSource(path)
    assert source.months() == sorted(frames_by_month(small_panel))
    got = source.load_months(["2019-07"])["2019-07"].frame
    want = frames_by_month(small_panel)["2019-07"]
    pd.testing.assert_frame_equal(got, want, check_exact=False)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_directory_of_monthly_files(tmp_path, small_panel, fmt):
    _write_monthly(small_panel, tmp_path / "landing", fmt)
    source = FilePanelSource(tmp_path / "landing")
    assert len(source.months()) == 142
    loaded = source.load_months(["2012-03", "2023-12"])
    assert c.schema_problems(loaded["2023-12"].frame) == []


def test_monthly_file_with_text_in_numeric_column_is_reported_not_coerced(tmp_path, small_panel):
    _write_monthly(small_panel, tmp_path / "landing", "csv")
    path = tmp_path / "landing" / "2015-01.csv"
    frame = pd.read_csv(path)
    frame["inventory"] = frame["inventory"].astype(object)
    frame.loc[0, "inventory"] = "lots"
    frame.to_csv(path, index=False)
    loaded = FilePanelSource(tmp_path / "landing").load_months(["2015-01"])["2015-01"]
    assert len(loaded.problems) == 1 and "'inventory'" in loaded.problems[0]
    assert loaded.frame["inventory"].dtype == object


def test_unreadable_file_names_the_file(tmp_path, small_panel):
    _write_monthly(small_panel, tmp_path / "landing", "parquet")
    broken = tmp_path / "landing" / "housets_2014-02.parquet"
    broken.write_bytes(broken.read_bytes()[:100])  # truncated upload
    loads = FilePanelSource(tmp_path / "landing").load_months(["2014-01", "2014-02"])
    # The unreadable month is an empty frame carrying the reason (the contract check fails it);
    # its neighbour loads normally.
    assert len(loads["2014-01"].frame) > 0 and unreadable_reason(loads["2014-01"].frame) is None
    reason = unreadable_reason(loads["2014-02"].frame)
    assert reason is not None and "housets_2014-02.parquet: cannot be read as .parquet" in reason
    assert len(loads["2014-02"].frame) == 0 and loads["2014-02"].problems == [reason]


def test_a_csv_cut_off_mid_row_is_refused_not_padded_with_nan(tmp_path, small_panel):
    _write_monthly(small_panel, tmp_path / "landing", "csv")
    path = tmp_path / "landing" / "2014-02.csv"
    whole = path.read_bytes()
    source = FilePanelSource(tmp_path / "landing")
    path.write_bytes(whole.rstrip(b"\n"))  # no final newline is fine
    assert unreadable_reason(source.load_months(["2014-02"])["2014-02"].frame) is None
    path.write_bytes(whole[:-40])
    reason = unreadable_reason(source.load_months(["2014-02"])["2014-02"].frame)
    assert reason is not None and "2014-02.csv: truncated" in reason


def test_missing_month_and_missing_path_are_clear_errors(tmp_path, small_panel):
    _write_monthly(small_panel, tmp_path / "landing", "csv")
    with pytest.raises(c.ContractError, match="no file for month 2030-01"):
        FilePanelSource(tmp_path / "landing").load_months(["2030-01"])
    with pytest.raises(c.ContractError, match="does not exist"):
        FilePanelSource(tmp_path / "nowhere")


def test_s3_source_parses_uris():
    single = S3PanelSource("s3://bucket/raw/housets.csv")
    prefix = S3PanelSource("s3://bucket/landing/")
    assert (single.bucket, single.prefix, single._is_single_object()) == (
        "bucket",
        "raw/housets.csv",
        True,
    )
    assert (prefix.bucket, prefix.prefix, prefix._is_single_object()) == (
        "bucket",
        "landing/",
        False,
    )
    with pytest.raises(c.ContractError, match="not an s3"):
        S3PanelSource("/local/path")


def _write_publisher_months(panel, folder, months):
    folder.mkdir()
    for month, frame in frames_by_month(panel).items():
        if month in months:
            publisher_layout(frame).to_csv(folder / f"{month}.csv", index=False)


def test_partial_monthly_files_load_in_the_contract_columns(tmp_path, small_panel):
    _write_publisher_months(small_panel, tmp_path / "landing", ["2015-01", "2015-02"])
    loads = FilePanelSource(tmp_path / "landing").load_months(["2015-01", "2015-02"])
    for load in loads.values():
        assert load.problems == [] and c.schema_problems(load.frame) == []
        assert c.not_reported_columns(load.frame) == PUBLISHER_LACKS
        assert list(load.frame.columns[-3:]) == ["longitude", "latitude", "state"]


def test_a_monthly_file_without_the_target_is_quarantined_naming_file_and_column(
    tmp_path, small_panel
):
    _write_publisher_months(small_panel, tmp_path / "landing", ["2015-01", "2015-02"])
    path = tmp_path / "landing" / "2015-02.csv"
    pd.read_csv(path).rename(columns={"price": "value"}).to_csv(path, index=False)
    loads = FilePanelSource(tmp_path / "landing").load_months(["2015-01", "2015-02"])
    assert unreadable_reason(loads["2015-01"].frame) is None
    reason = unreadable_reason(loads["2015-02"].frame)
    assert reason is not None and "2015-02.csv: missing required column(s) ['price']" in reason
    assert "'value'" in reason  # the column it may have been delivered as
    assert len(loads["2015-02"].frame) == 0


def test_single_table_in_the_publisher_layout_records_what_each_month_lacks(tmp_path, small_panel):
    path = tmp_path / "panel.csv"
    publisher_layout(small_panel).to_csv(path, index=False)
    source = FilePanelSource(path)
    assert source.months() == sorted(frames_by_month(small_panel))
    frame = source.load_months(["2019-07"])["2019-07"].frame
    assert c.schema_problems(frame) == [] and (frame["year"] == 2019).all()
    assert c.not_reported_columns(frame) == PUBLISHER_LACKS
    assert c.dropped_columns(frame) == ["city"]
    want = frames_by_month(small_panel)["2019-07"]
    assert frame["city"].tolist() == want["city"].tolist()


def test_single_table_without_a_key_fails_loudly_naming_the_file(tmp_path, small_panel):
    path = tmp_path / "panel.csv"
    publisher_layout(small_panel).drop(columns=["zipcode"]).to_csv(path, index=False)
    with pytest.raises(
        c.ContractError, match=r"panel\.csv: missing required column\(s\) \['zipcode'\]"
    ):
        FilePanelSource(path).months()


class _FakeS3:
    """Just what S3PanelSource calls: list a prefix, get an object."""

    def __init__(self, objects: dict[str, bytes]):
        self.objects = objects

    def get_paginator(self, _name):
        objects = self.objects

        class Paginator:
            def paginate(self, Bucket, Prefix):
                keys = [k for k in sorted(objects) if k.startswith(Prefix)]
                return [
                    {"Contents": [{"Key": k, "ETag": '"x"', "Size": len(objects[k])} for k in keys]}
                ]

        return Paginator()

    def get_object(self, Bucket, Key):
        return {"Body": io.BytesIO(self.objects[Key])}


def test_s3_monthly_objects_are_mapped_and_a_broken_one_quarantined(small_panel):
    by_month = frames_by_month(small_panel)
    good = publisher_layout(by_month["2015-01"]).to_csv(index=False).encode()
    no_metro = by_month["2015-02"].drop(columns=["city", "city_full"]).to_csv(index=False).encode()
    client = _FakeS3({"landing/2015-01.csv": good, "landing/2015-02.csv": no_metro})
    loads = S3PanelSource("s3://b/landing/", client=client).load_months(["2015-01", "2015-02"])
    assert c.not_reported_columns(loads["2015-01"].frame) == PUBLISHER_LACKS
    reason = unreadable_reason(loads["2015-02"].frame)
    assert reason is not None and reason.startswith("s3://b/landing/2015-02.csv: missing")
    assert "a metro (metro / city / city_full)" in reason
