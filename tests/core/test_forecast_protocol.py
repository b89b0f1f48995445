"""benchmarks/forecast_protocol.py on the real DC development panel: the acceptance command's
output format, and the forecaster against persistence and drift on the protocol's test months."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.real_data
def test_the_protocol_benchmark_beats_persistence_at_every_step_on_the_real_panel(
    tmp_path, dc_panel_path
):
    out = tmp_path / "protocol.json"
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/forecast_protocol.py",
            "--source",
            str(dc_panel_path),
            "--json",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "test 2020-01..2021-12; H=12: 13 origins" in done.stdout
    result = json.loads(out.read_text())
    for key in ("H6", "H12"):
        entry = result[key]
        for field in (
            "model",
            "model_all_history",
            "persistence",
            "drift",
            "coverage_80",
            "coverage_95",
        ):
            assert isinstance(entry[field], float), (key, field)
        ours = entry["model_detail"]["mape_by_step"]
        for h, mape in ours.items():
            assert mape < entry["persistence_detail"]["mape_by_step"][h], (key, h)
    assert result["H6"]["model_detail"]["points"] == 19 * 6 * 40
    assert result["H12"]["model_detail"]["points"] == 13 * 12 * 40
    # The boom's short horizons: the momentum the forecaster reads beats carrying the year on.
    for h, mape in result["H6"]["model_detail"]["mape_by_step"].items():
        assert mape < result["H6"]["drift_detail"]["mape_by_step"][h], h
    years = result["rolling_by_year"]
    assert [y["year"] for y in years] == [2017, 2018, 2019, 2020, 2021]
    assert all(y["model"] < y["persistence"] for y in years), years


def test_a_panel_the_protocol_cannot_run_on_is_refused_in_one_line(tmp_path):
    short = tmp_path / "short.csv"
    short.write_text(
        "zipcode,date,price,city_full\n"
        + "".join(f"20001,2020-{m:02d}-28,{300000 + m},DC\n" for m in range(1, 13))
    )
    done = subprocess.run(
        [sys.executable, "benchmarks/forecast_protocol.py", "--source", str(short)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert str(short) in done.stderr
