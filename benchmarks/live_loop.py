"""The operator's real-data loop: a real panel's months landed one at a time through the daemon,
with the API under load and an alert receiver, and what the platform said about each month.

    uv run python benchmarks/live_loop.py --source FILE --history-until YYYY-MM
                                          [--months N] [--json PATH]

On a temporary home: the panel's months up to `--history-until` land in the landing directory
as monthly CSV files in the publisher's own layout, and `housing run` trains the first champion
(its holdout the last 12 of those months). Then the real `dagster-daemon` and the API
(`housing serve`) start, a steady load of single-row predictions begins, a local webhook takes
the alerts, and each later month is moved into the landing directory once the one before is
served. Per month:

* served_s: landing -> the API serves history through the month;
* live_mape / persistence_mape / losing: the month's live record, as the model that served it
  scored it (reports/live/);
* drift: that model's drift verdict of the month (OK, WARN, ERROR);
* retrain / swap: training runs started and models the API swapped to in the month's window;
* loss_alerted: whether a champion_losing alert named the month by the time the next month was
  served (null when the model did not lose it);
* failed_requests of the load in the month's window; alerts received in it.

The sensors tick every few seconds here (the policies file this writes) and a retraining tunes
6 trials: the loop's decisions are the platform's defaults, only faster.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pandas as pd
from loop_latency import RunWatch, load_average, say

from housing_core import contract as c
from housing_harness.loop import LoopHome, LoopProcesses, steady_load
from housing_harness.soak import holdout_records
from housing_harness.webhook import webhook_receiver

POLICIES = """\
retrain:
  n_trials: 6
sensors:
  new_data_seconds: 5
  retrain_seconds: 10
  drift_recompute_seconds: 10
  alert_seconds: 5
"""


def by_month(source: Path) -> dict[str, pd.DataFrame]:
    """The panel's rows per month, in the publisher's layout as delivered."""
    raw = pd.read_csv(source)
    month = pd.to_datetime(raw["date"]).dt.strftime("%Y-%m")
    return {m: rows for m, rows in raw.groupby(month)}


def live_record(home: Path, month: str) -> dict | None:
    """The month's live record, by whichever model served it (a retrained champion may have
    gone live between the landing and the month's run); the latest if several scored it."""
    found = sorted(
        (home / "serving" / "reports" / "live").glob(f"v*/{month}.json"),
        key=lambda p: p.stat().st_mtime,
    )
    return json.loads(found[-1].read_text()) if found else None


def drift_report(home: Path, model: str, month: str) -> dict:
    path = home / "serving" / "reports" / "drift" / f"v{model}" / f"{month}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True, help="a HouseTS panel CSV")
    parser.add_argument("--history-until", required=True, help="the last month of history")
    parser.add_argument("--months", type=int, default=24, help="months to land after it")
    parser.add_argument("--first-trials", type=int, default=6)
    parser.add_argument("--rate", type=float, default=10.0, help="requests per second")
    parser.add_argument("--month-timeout", type=float, default=8.0, help="minutes per month")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    months = by_month(args.source)
    history = [m for m in months if m <= args.history_until]
    landing = [m for m in months if m > args.history_until][: args.months]
    vintage = str(pd.Period(args.history_until, "M") - 11)
    with tempfile.TemporaryDirectory(prefix="housing-live-") as tmp, webhook_receiver() as hook:
        root = Path(tmp)
        (root / "policies.yaml").write_text(POLICIES)
        loop = LoopHome(
            root / "home", 1.0, policies=root / "policies.yaml", alert_webhook=f"{hook[0]}/hook"
        )
        loop.landing.mkdir(parents=True)
        staging = root / "staging"
        staging.mkdir()
        for m in history:
            months[m].to_csv(loop.landing / f"{m}.csv", index=False)
        for m in landing:
            months[m].to_csv(staging / f"{m}.csv", index=False)
        say(f"{len(history)} months of history to {args.history_until}; training vintage "
            f"{vintage} ({args.first_trials} trials); load average {load_average()}")  # fmt: skip
        loop.housing("run", "--vintage", vintage, "--trials", str(args.first_trials))
        # The API takes the contract's columns: the publisher's extras (lon/lat, state) stay out.
        row = {k: v for k, v in holdout_records(loop.home, 1)[0].items() if k in c.COLUMNS}
        body = {"rows": [row]}
        with LoopProcesses(loop, root / "logs") as procs:
            try:
                rows = land_each(loop, procs, staging, landing, body, hook[1], args)
            except BaseException:
                for name in ("daemon", "api"):
                    say(f"--- {name} log (tail) ---\n{procs.log(name)[-3000:]}")
                raise
    report(rows, args.json)
    return 0


def judged(loop, watch, load, live_model: str, landed_model: str, month: str) -> dict:
    """The drift verdict on `month` of the model that scored it live. A swap between the
    month's drift report and its live record leaves that model's report to the drift sensor's
    recompute: wait for it a while, else take the report of the model serving at landing."""
    deadline = load.now() + 90
    while not (report := drift_report(loop.home, live_model, month)) and load.now() < deadline:
        watch.poll(load.now())
        time.sleep(1)
    return report or drift_report(loop.home, landed_model, month)


def land_each(loop, procs, staging: Path, landing: list[str], body, alerts, args) -> list[dict]:
    url = procs.api()
    procs.daemon()
    rows: list[dict] = []
    with steady_load(url, body, args.rate) as load, loop.instance() as instance:
        watch = RunWatch(instance)
        watch.poll(0, quiet=True)
        for month in landing:
            served = httpx.get(f"{url}/v1/model", timeout=30).json()
            model = served["model_version"]
            t0, failed0, alerts0 = load.now(), load.errors, len(alerts)
            events0 = len(watch.events)
            loop.deliver([staging / f"{month}.csv"])
            say(f"{month} landed (serving model v{model})")
            served_s = None
            deadline = t0 + args.month_timeout * 60
            while load.now() < deadline:
                watch.poll(load.now())
                now = httpx.get(f"{url}/v1/model", timeout=30).json()
                if served_s is None and (now["history_until"] or "") >= month:
                    served_s = load.now() - t0
                if served_s is not None and live_record(loop.home, month) is not None:
                    break
                time.sleep(1)
            live = live_record(loop.home, month) or {}
            drift = judged(loop, watch, load, live.get("model_version", model), model, month)
            events = watch.events[events0:]
            row = {
                "month": month,
                "model": live.get("model_version", model),
                "served_s": round(served_s, 1) if served_s is not None else None,
                "live_mape": live.get("mape"),
                "persistence_mape": live.get("persistence_mape"),
                "losing": live.get("losing"),
                "drift": (drift.get("status") or "missing").upper(),
                "drift_reasons": drift.get("reasons", []),
                "retrain": [
                    e["run"]
                    for e in events
                    if e["run"].startswith("train") and e["status"] == "STARTED"
                ],
                "swap": now["model_version"] if now["model_version"] != model else None,
                "failed_requests": load.errors - failed0,
                "alerts": [a["kind"] for a in alerts[alerts0:]],
            }
            rows.append(row)
            say(f"  served in {row['served_s']} s; live {row['live_mape']} vs persistence "
                f"{row['persistence_mape']} (losing {row['losing']}); drift {row['drift']}; "
                f"alerts {row['alerts']}; load average {load_average()}")  # fmt: skip
        time.sleep(10)  # an alert about the last month has its tick
    named = {m for a in alerts if a["kind"] == "champion_losing" for m in a["details"]["months"]}
    for row in rows:
        row["loss_alerted"] = (row["month"] in named) if row["losing"] else None
    return rows


def report(rows: list[dict], path: Path | None) -> None:
    say("\n| month | served | live MAPE | persistence | drift | retrain | swap | alerts | failed |")
    say("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        lost = " (lost" + (", alerted)" if r["loss_alerted"] else ")") if r["losing"] else ""
        say(f"| {r['month']} | {r['served_s']} s | {_pct(r['live_mape'])}{lost} | "
            f"{_pct(r['persistence_mape'])} | {r['drift']} | {len(r['retrain'])} | "
            f"{r['swap'] or ''} | {', '.join(r['alerts'])} | {r['failed_requests']} |")  # fmt: skip
    served = [r["served_s"] for r in rows if r["served_s"] is not None]
    drift = pd.Series([r["drift"] for r in rows]).value_counts().to_dict()
    say(f"\ndrift verdicts {drift}; served p50 {pd.Series(served).median():.0f} s; "
        f"{sum(r['failed_requests'] for r in rows)} failed requests; months lost "
        f"{sum(bool(r['losing']) for r in rows)}, of them alerted "
        f"{sum(bool(r['loss_alerted']) for r in rows)}")  # fmt: skip
    if path:
        path.write_text(json.dumps({"months": rows}, indent=1))


def _pct(value) -> str:
    return "–" if value is None else f"{value:.2f}%"


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
