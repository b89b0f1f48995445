"""The README's main command, as a user runs it: a subprocess on a fresh HOUSING_HOME."""

import os
import signal
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
    assert "142 month(s) 2012-03..2023-12: 142 to ingest (142 new partitions)" in out
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
    assert "tuning: 2 trial(s) run" in out  # what tuning did, not what was asked
    # Second run: the months are ingested and unchanged, so nothing is ingested again.
    again = _housing(["run", "--scale", "0.01", "--months", "2023", "--no-train"], tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (
        "12 month(s) 2023-01..2023-12: 0 to ingest (0 new partitions), 12 unchanged" in again.stdout
    )
    assert (
        "done in" in again.stdout
        and "0 month(s) ingested and cleaned, 12 unchanged (skipped)" in again.stdout
    )
    # Another seed is other content: every selected month is ingested again; --reingest forces it.
    other = _housing(
        ["run", "--scale", "0.01", "--seed", "8", "--months", "2023-12", "--no-train"], tmp_path
    )
    assert "1 to ingest (0 new partitions), 0 unchanged" in other.stdout, (
        other.stdout + other.stderr
    )
    forced = _housing(
        [
            "run",
            "--scale",
            "0.01",
            "--seed",
            "8",
            "--months",
            "2023-12",
            "--no-train",
            "--reingest",
        ],
        tmp_path,
    )
    assert "1 to ingest (0 new partitions), 0 unchanged" in forced.stdout, (
        forced.stdout + forced.stderr
    )
    # One vintage on what is ingested, without touching the data.
    before = sorted(
        p.stat().st_mtime_ns for p in (tmp_path / "data" / "cleaned_monthly").glob("*.parquet")
    )
    train = _housing(["train", "--vintage", "2021-07", "--trials", "1"], tmp_path)
    assert train.returncode in (0, 1), train.stdout + train.stderr  # 1: the gate kept v1
    assert "vintage 2021-07 on the 142 ingested month(s) 2012-03..2023-12" in train.stdout
    assert "tuning: 1 trial(s) run" in train.stdout and "registered version 2" in train.stdout
    after = sorted(
        p.stat().st_mtime_ns for p in (tmp_path / "data" / "cleaned_monthly").glob("*.parquet")
    )
    assert after == before


@pytest.mark.slow
def test_housing_run_on_monthly_files_with_broken_months_exits_nonzero_and_names_them(tmp_path):
    """A careless delivery: a row filed in the wrong month, a second file for one month (a copy
    with prices x10), a file without newlines, a misnamed file, a month in a format not read
    and a README. Each bad month is quarantined naming its file(s); each other file is listed
    with its reason; the other months land."""
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
    (landing / "2016-12.xlsx").write_bytes(b"PK")  # a month in a format not read
    (landing / "README.md").write_text("deliveries")
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
    assert "ignored 2016-12.xlsx: named for a month, but not a table" in proc.stdout
    assert "not data: README.md: not a table (.csv / .csv.gz / .parquet)" in proc.stdout
    assert "9 month(s) ingested and cleaned" in proc.stdout
    cleaned = {p.stem for p in (tmp_path / "home" / "data" / "cleaned_monthly").glob("*.parquet")}
    assert cleaned.isdisjoint({"2016-05", "2016-08", "2016-10"}) and len(cleaned) == 9


@pytest.mark.slow
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


MISTAKES = {  # a user mistake -> its exit code and the one line that names the fix
    "missing source": (["run", "--source", "nope.csv"], {}, 3,
        "error: source path nope.csv does not exist (check --source / HOUSING_SOURCE)"),
    "not a month": (["run", "--vintage", "22-01"], {}, 2,
        "error: argument --vintage: '22-01' is not a month: use YYYY-MM, e.g. 2022-01 (see `housing run --help`)"),
    "bad variable": (["run"], {"HOUSING_SCALE": "-1"}, 4,
        "error: HOUSING_SCALE: Input should be greater than 0 (got '-1')"),
    "nothing ingested": (["train"], {}, 2, "error: nothing is ingested in {home}: run `housing run --no-train` first"),
    "no such months": (["run", "--scale", "0.01", "--months", "2099", "--no-train"], {}, 2,
        "error: --months 2099 selects no month of synthetic(seed=7, scale=0.01) (2012-03..2023-12): pick months it has, e.g. --months 2023"),
    "home not writable": (["run"], {"HOUSING_HOME": "/dev/null/home"}, 4,
        "error: HOUSING_HOME=/dev/null/home cannot be written (Not a directory): set HOUSING_HOME to a directory you can write"),
    "mlflow home not writable": (["mlflow"], {"HOUSING_HOME": "/dev/null/home"}, 4,
        "error: HOUSING_HOME=/dev/null/home cannot be written (Not a directory): set HOUSING_HOME to a directory you can write"),
}  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_a_user_mistake_is_one_line_naming_the_fix_with_its_own_exit_code(mistake, tmp_path):
    """They were tracebacks: `--source nope.csv` 19 lines, `--vintage 22-01` a pandas error."""
    args, env, code, line = MISTAKES[mistake]
    proc = _housing(args, tmp_path, **env)
    assert proc.returncode == code, proc.stdout + proc.stderr
    said = [x for x in (proc.stdout + proc.stderr).splitlines() if x.strip()]
    assert said[-1] == line.format(home=tmp_path)
    assert [x for x in said if x.startswith("error")] == [said[-1]]
    assert not [x for x in said if not x.startswith(("error", "[1/"))], said  # nothing else
    assert not (tmp_path / "data").exists()


@pytest.mark.slow
def test_a_taken_port_is_one_line_and_exit_5_for_every_server_command(tmp_path):
    """`housing serve` printed its banner then uvicorn's bind error (exit 3), `housing ui`
    exited 1 and `housing mlflow` 0."""
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        for command in ("serve", "ui", "mlflow", "dev"):
            proc = _housing([command, "--port", str(port)], tmp_path)
            said = [x for x in (proc.stdout + proc.stderr).splitlines() if x.strip()]
            assert proc.returncode == 5, (command, said)
            assert said == [
                f"error: cannot listen on 127.0.0.1:{port} (Address already in use): stop what "
                "uses it, or pick another port with --port"
            ], command


@pytest.mark.slow
def test_ctrl_c_stops_with_one_line_and_the_next_run_resumes(tmp_path):
    """Ctrl-C during ingest printed 79 lines and 3 tracebacks, then re-ran every month alone
    and exited 0. A terminal's Ctrl-C reaches the whole foreground process group, the helpers
    Dagster starts for a step's output included: they stay quiet too."""
    environment = {**os.environ, "HOUSING_HOME": str(tmp_path)}
    environment.pop("DAGSTER_HOME", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "housing_assets.cli", "run", "--scale", "0.01", "--no-train", "-v"],
        cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,  # its own group, as a shell gives a command
    )  # fmt: skip
    lines = []
    for line in proc.stdout:  # -v: a line as each step starts; interrupt inside the run
        lines.append(line)
        if "raw_monthly ..." in line:
            break
    os.killpg(proc.pid, signal.SIGINT)
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(lines) + rest + err
    said = [x for x in rest.splitlines() if x.strip()]
    assert len(said) == 1 and said[0].startswith("interrupted: run "), rest
    assert said[0].endswith("is marked failed; what finished is kept, `housing run` again resumes")
    assert "Traceback" not in rest + err and "STEP_FAILURE" not in rest + err
    again = _housing(["run", "--scale", "0.01", "--no-train"], tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "142 to ingest" in again.stdout and "142 month(s) ingested and cleaned" in again.stdout


def test_generate_single_file_is_the_published_layout(tmp_path):
    target = tmp_path / "housets.csv"
    proc = _housing(
        ["generate", "--out", str(target), "--single-file", "--scale", "0.01"], tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    header = target.read_text().splitlines()[0]
    assert header.startswith("date,median_sale_price,") and header.endswith(",price,city_full")
