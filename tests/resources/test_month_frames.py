import gc

import pandas as pd
import pytest

from housing_assets.resources.month_frames import MonthFrames, MonthSpill, from_parquet


def _frame(n: int) -> pd.DataFrame:
    frame = pd.DataFrame({"zipcode": range(n), "price": [1.5 * i for i in range(n)]})
    frame.attrs["housing_not_reported"] = ["inventory"]
    return frame


def test_spilled_months_read_back_equal_with_attrs_and_in_order():
    spill = MonthSpill()
    for i, month in enumerate(["2020-02", "2020-01", "2020-03"]):
        spill.put(month, _frame(i + 1))
    frames = spill.frames()
    assert list(frames) == ["2020-02", "2020-01", "2020-03"] and len(frames) == 3
    pd.testing.assert_frame_equal(frames["2020-03"], _frame(3))
    assert frames["2020-03"].attrs == {"housing_not_reported": ["inventory"]}
    assert from_parquet(frames.encoded("2020-01")).equals(_frame(2))
    assert "2020-01" in frames and "2019-12" not in frames
    with pytest.raises(KeyError):
        frames["2019-12"]


def test_frames_are_read_on_every_access_never_held():
    reads = []

    def read(month: str) -> bytes:
        reads.append(month)
        spill_bytes = MonthSpill()
        spill_bytes.put(month, _frame(2))
        return spill_bytes.frames().encoded(month)

    frames = MonthFrames(read, ["2020-01", "2020-02"], missing=["2019-12"])
    assert reads == []  # listing, counting and membership read nothing
    assert sorted(frames) == ["2020-01", "2020-02"] and frames.missing == ["2019-12"]
    frames["2020-01"], frames["2020-01"]
    assert reads == ["2020-01", "2020-01"]


def test_a_month_is_spilled_once_and_the_directory_goes_with_its_last_reader():
    spill = MonthSpill()
    spill.put("2020-01", _frame(1))
    with pytest.raises(ValueError, match="2020-01 was already written"):
        spill.put("2020-01", _frame(1))
    where = spill.dir
    frames = spill.frames()
    del spill
    gc.collect()
    assert where.exists()  # the frames still read from it
    del frames
    gc.collect()
    assert not where.exists()
