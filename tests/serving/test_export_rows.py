"""`housing export-rows` writes the CSV that the API docs' `/v1/predict/csv` example uploads: the
API scores every row of it (the example needed a `rows.csv` nobody said how to make)."""

import io

import pandas as pd
import pytest

from housing_assets.cli import main
from tests.conftest import frames_by_month


@pytest.fixture
def home(small_panel, tmp_path, monkeypatch):
    """A home with three cleaned months, stored as the IO manager stores them."""
    cleaned = tmp_path / "home" / "data" / "cleaned_monthly"
    cleaned.mkdir(parents=True)
    for month, frame in list(frames_by_month(small_panel).items())[-3:]:
        frame.assign(longitude=-96.7).to_parquet(cleaned / f"{month}.parquet", index=False)
    monkeypatch.setenv("HOUSING_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_the_exported_rows_are_scored_by_the_csv_route(home, client, tmp_path, capsys):
    out = tmp_path / "rows.csv"
    assert main(["export-rows", "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == (
        f"wrote 5 row(s) of 2023-12 to {out} (the columns /v1/predict/csv takes)"
    )
    rows = pd.read_csv(out)
    assert list(rows.columns[:3]) == ["id", "date", "median_sale_price"]
    assert "longitude" not in rows and (rows["date"] == "2023-12-31").all()
    answer = client.post("/v1/predict/csv", files={"file": ("rows.csv", out.read_bytes())})
    assert answer.status_code == 200, answer.text
    scored = pd.read_csv(io.StringIO(answer.text))
    assert scored["id"].tolist() == rows["id"].tolist()
    assert (scored["prediction"] > 0).all()


def test_a_month_and_zip_codes_can_be_chosen(home, small_panel, tmp_path):
    zips = sorted(small_panel["zipcode"].unique())[:2]
    out = tmp_path / "two.csv"
    arg = ",".join(map(str, zips))
    assert main(["export-rows", "--out", str(out), "--month", "2023-11", "--zip", arg]) == 0
    rows = pd.read_csv(out)
    assert rows["id"].tolist() == [f"{z:05d}-2023-11" for z in zips]  # as the zip is written


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--month", "2019-01"], "error: --month 2019-01 is not ingested (cleaned months: "
         "2023-10..2023-12): pick one of them, or leave --month out for the latest"),
        (["--zip", "1234"], "error: --zip 1234: not in 2023-12"),
    ],
)  # fmt: skip
def test_a_month_or_zip_that_is_not_there_is_one_line_naming_the_fix(
    home, tmp_path, capsys, args, said
):
    assert main(["export-rows", "--out", str(tmp_path / "x.csv"), *args]) == 2
    assert capsys.readouterr().out.startswith(said)
    assert not (tmp_path / "x.csv").exists()


def test_an_empty_home_says_to_ingest_first(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOUSING_HOME", str(tmp_path))
    assert main(["export-rows", "--out", str(tmp_path / "x.csv")]) == 2
    assert capsys.readouterr().out.strip() == (
        f"error: nothing is ingested in {tmp_path / 'data'}: run `housing run --no-train` first"
    )
