import pandas as pd
import pytest

from housing_assets.lib import contract as c
from housing_assets.lib.contract import unreadable_reason
from housing_assets.lib.sources import (
    FilePanelSource,
    S3PanelSource,
    SyntheticPanelSource,
)
from housing_assets.lib.synthetic import SyntheticSpec
from tests.conftest import frames_by_month


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
