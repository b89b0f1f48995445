"""The CSV route applies exactly the JSON route's validation and never answers 500.

Each CSV below is also sent as the JSON body it means (one object per line, header names as
keys, an empty cell as null, every other cell as its text): both routes must give the same
status and the same messages. A seeded fuzz of byte-level damage then checks that no upload,
however broken, reaches a 500 (the test client re-raises any server exception)."""

import csv
import io
import random

import pytest

from tests.serving.conftest import make_client


@pytest.fixture(scope="module")
def valid_csv(holdout) -> str:
    return holdout.drop(columns=["split"]).head(6).to_csv(index=False)


@pytest.fixture(scope="module")
def client(tmp_path_factory, tiny):
    with make_client(tiny.publish(tmp_path_factory.mktemp("csv") / "serving")) as c:
        yield c


def edit(text: str, row: int, column: str, value: str) -> str:
    lines = list(csv.reader(io.StringIO(text)))
    lines[row + 1][lines[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(lines)
    return out.getvalue()


def as_json(text: str) -> dict:
    """The JSON body a CSV means: what the CSV route promises to validate as."""
    reader = csv.DictReader(io.StringIO(text))
    return {"rows": [{k: (v if v.strip() else None) for k, v in r.items()} for r in reader]}


CASES = {  # name: (row, column, value, the first message both routes give)
    "an empty date cell (was a 500)": (0, "date", "", "row 0: date: Input should be a valid date"),
    "an impossible zip code (was scored)": (
        1,
        "zipcode",
        "123",
        "row 1: zipcode: Input should be greater than or equal to 501",
    ),
    "a date in 1800 (was scored)": (
        2,
        "date",
        "1800-01-31",
        "row 2: date: Value error, must be between 1990-01 and 2100-12",
    ),
    "text in a numeric column": (
        3,
        "inventory",
        "lots",
        "row 3: inventory: Input should be a valid number, unable to parse string as a number",
    ),
    "infinity": (
        0,
        "median_sale_price",
        "inf",
        "row 0: median_sale_price: Input should be a finite number",
    ),
    "an empty zip code": (4, "zipcode", "", "row 4: zipcode: Input should be a valid integer"),
    "an empty city": (5, "city", "", "row 5: city: Input should be a valid string"),
    "a negative count": (
        1,
        "homes_sold",
        "-5",
        "homes_sold=-5 breaks the rule: monthly counts are non-negative",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_bad_value_gets_the_json_routes_answer(name, client, valid_csv):
    row, column, value, first = CASES[name]
    text = edit(valid_csv, row, column, value)
    by_csv = client.post("/v1/predict/csv", files={"file": ("rows.csv", text, "text/csv")})
    by_json = client.post("/v1/predict", json=as_json(text))
    assert by_csv.status_code == by_json.status_code == 422, by_csv.text
    assert by_csv.json() == by_json.json()
    assert by_csv.json()["detail"][0]["message"].startswith(first), by_csv.json()


def test_a_valid_upload_scores_like_json(client, valid_csv):
    by_csv = client.post("/v1/predict/csv", files={"file": ("rows.csv", valid_csv, "text/csv")})
    by_json = client.post("/v1/predict", json=as_json(valid_csv)).json()["predictions"]
    assert by_csv.status_code == 200
    got = list(csv.DictReader(io.StringIO(by_csv.text)))
    assert [float(r["prediction"]) for r in got] == pytest.approx(
        [p["prediction"] for p in by_json]
    )
    assert [r["id"] for r in got] == [str(i) for i in range(6)]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a readable CSV: the upload is empty"),
        (
            b"\xff\xfe\x00garbage",
            "not a readable CSV: not UTF-8 text (invalid start byte)",
        ),
        (b'date,zipcode\n"2023-01-31,75013\n', "not a readable CSV: unexpected end of data"),
    ],
)
def test_unreadable_uploads_are_422(client, content, message):
    response = client.post("/v1/predict/csv", files={"file": ("rows.csv", content, "text/csv")})
    assert response.status_code == 422
    assert response.json()["detail"][0]["message"] == message


def test_header_and_shape_problems_are_named(client, valid_csv):
    header, *rest = valid_csv.splitlines()

    def post(text):
        response = client.post("/v1/predict/csv", files={"file": ("r.csv", text, "text/csv")})
        assert response.status_code == 422
        return response.json()["detail"][0]["message"]

    assert post(f"{header},lon\n" + "\n".join(r + ",1.5" for r in rest)) == (
        "unknown columns ['lon'] (allowed: the contract's and `id`)"
    )
    assert post(header.replace("inventory,", "") + "\n") == "the CSV has no rows"
    assert post(f"{header},price\n" + "\n".join(r + ",1" for r in rest)) == (
        "columns appear more than once in the header: ['price']"
    )
    width = len(header.split(","))
    assert post("\n".join([header, rest[0] + ",extra", *rest[1:]])) == (
        f"row 0: {width + 1} cells; the header has {width} columns"
    )


def test_too_many_rows_is_413_before_validation(client, valid_csv, holdout):
    header, first = valid_csv.splitlines()[:2]
    text = "\n".join([header] + [first] * 10_001)
    response = client.post("/v1/predict/csv", files={"file": ("r.csv", text, "text/csv")})
    assert response.status_code == 413
    assert response.json()["detail"][0]["message"] == (
        "10,001 rows; the limit is 10,000 per request"
    )


def test_no_damage_to_an_upload_makes_a_500(client, valid_csv):
    rng = random.Random(17)
    original = valid_csv.encode()
    statuses = set()
    for _ in range(150):
        data = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            at = rng.randrange(len(data))
            action = rng.choice(["flip", "cut", "insert", "delete"])
            if action == "flip":
                data[at] = rng.randrange(256)
            elif action == "cut":
                del data[at:]
                if not data:
                    break
            elif action == "insert":
                data[at:at] = rng.choice([b'"', b",", b"\n", b"\x00", b"\r", b"nan", b"-1e309"])
            else:
                del data[at : at + rng.randint(1, 20)]
        response = client.post(
            "/v1/predict/csv", files={"file": ("r.csv", bytes(data), "text/csv")}
        )
        assert response.status_code in (200, 413, 422), response.text
        assert response.json()["detail"][0]["message"] if response.status_code != 200 else True
        statuses.add(response.status_code)
    assert statuses == {200, 422}  # some damage is harmless (e.g. a digit changed), most is not


@pytest.mark.parametrize("hostile", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx"])
def test_an_id_a_spreadsheet_would_run_comes_back_as_text(client, valid_csv, hostile):
    lines = valid_csv.splitlines()
    assert "id" not in lines[0].split(",")
    with_ids = "\n".join([lines[0] + ",id", *(f"{line},r{i}" for i, line in enumerate(lines[1:]))])
    upload = edit(with_ids + "\n", 0, "id", hostile)
    answer = client.post("/v1/predict/csv", files={"file": ("rows.csv", upload, "text/csv")})
    assert answer.status_code == 200, answer.text
    first = next(csv.DictReader(io.StringIO(answer.text)))
    assert first["id"] == "'" + hostile
    assert not any(
        cell.startswith(("=", "+", "@"))
        for row in csv.reader(io.StringIO(answer.text))
        for cell in row
    )
