"""The operator's run of the whole loop, replayed through real processes: a landing directory, a
real `dagster-daemon` (the sensors, the run queue, run workers), the real API (`housing serve`)
under a steady load, and a local HTTP receiver taking the alert webhook.

History to 2021-12 and a first champion (`housing run`), then months dropped one at a time, each
with the decision the platform must take:

1. a clean month:                 ingested, scored, its history served; no retraining (too few)
2-4. a bad day, three files at once -- a month whose prices jumped (quarantined by the
   month-over-month rule), a broken file (quarantined), a poisoned re-delivery of a past month
   (prices shuffled: held by the revision check, the accepted version kept) -- each named in an
   alert and in the new-data sensor's ticks
5. a drifted month (restaurants x3): ingested although earlier months are held; drift ERROR
                                  against the live champion; a retraining triggered by it trains
                                  on the healthy months, names the gaps, passes the gate, goes live
                                  with no failed request; the new champion's drift is recomputed
6. the jumped month re-sent corrected: released, ingested

Small scale (1% of the default panel), 2 tuning trials and sensors that tick every 2 s
(policies section `sensors`): the same code paths as production, at test speed.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time
from pathlib import Path

import dagster as dg
import httpx
import numpy as np
import pandas as pd
import pytest

from housing_core import bundle, drift_reports
from housing_harness.loop import LoopHome, LoopProcesses, steady_load
from housing_harness.soak import holdout_records
from housing_harness.webhook import webhook_receiver

pytestmark = pytest.mark.slow

SCALE = 0.01
POLICIES = """\
retrain:
  every_months: 6        # a clean month alone never retrains
  cooldown_months: 1
  mape_ratio: 100        # decide on the feature drift the scenario plants, not on the
                         # synthetic 2022 price level the first champion never saw
  n_trials: 2
  max_retries: 0
drift:
  single_feature_psi: 5  # the synthetic 2021 boom moves sale-to-list ratios to PSI 3.7 against
                         # the 2020 reference: a real regime, not the drift this scenario plants
  mape_ratio_warn: 50
  mape_ratio_error: 100
  prediction_psi_warn: 5
  prediction_psi_error: 10
sensors:
  new_data_seconds: 2
  retrain_seconds: 2
  drift_recompute_seconds: 2
  alert_seconds: 2
"""
NEW_DATA, RETRAIN = "new_source_months", "retrain_on_drift_or_new_data"
WAIT_S = 240  # the longest step: a retraining through the daemon (~1-2 min at this scale)


class Scenario:
    """What the test reads while the processes run: the home's Dagster instance, the API, the
    serving store, the alerts received."""

    def __init__(self, loop: LoopHome, procs: LoopProcesses, instance, api: str, alerts: list):
        self.loop, self.procs, self.instance, self.api, self.alerts = (
            loop,
            procs,
            instance,
            api,
            alerts,
        )
        self.store = bundle.LocalStore(loop.home / "serving")

    def until(self, check, what: str, timeout: float = WAIT_S):
        """Poll `check` until it returns something truthy; fail naming `what`, with the daemon's
        log and the latest runs."""
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                runs = [
                    f"{r.job_name} {r.tags.get('housing/months', r.tags.get('dagster/partition'))}"
                    f": {r.status.value}"
                    for r in self.instance.get_runs(limit=8)
                ]
                raise AssertionError(
                    f"{what}: not within {timeout:.0f} s. Latest runs: {runs}\n"
                    f"--- daemon log (tail) ---\n{self.procs.log('daemon')[-4000:]}"
                )
            time.sleep(0.5)

    def finished(self, tags: dict[str, str], job: str) -> dg.DagsterRun:
        """The run with `tags` once it has finished (it must exist by then)."""

        def done():
            runs = self.instance.get_runs(filters=dg.RunsFilter(job_name=job, tags=tags), limit=1)
            return runs[0] if runs and runs[0].is_finished else None

        return self.until(done, f"a finished {job} run tagged {tags}")

    def ingest(self, month: str, after: float) -> dg.DagsterRun:
        """The new-data sensor's run for `month` started after `after` (epoch s), finished."""

        def done():
            for record in self.instance.get_run_records(
                filters=dg.RunsFilter(tags={"housing/months": month}), limit=3
            ):
                if record.create_timestamp.timestamp() > after and record.dagster_run.is_finished:
                    return record.dagster_run
            return None

        return self.until(done, f"the ingest run of {month}")

    def tick_after(self, sensor: str, after: float) -> str:
        """The skip reason of `sensor`'s first tick evaluated after `after` (epoch s) that
        skipped; a tick that requested runs instead fails the test."""

        def tick():
            for state in self.instance.all_instigator_state():
                if state.instigator_name != sensor:
                    continue
                ticks = self.instance.get_ticks(
                    state.instigator_origin_id, state.selector_id, after=after, limit=20
                )
                for t in sorted(ticks, key=lambda t: t.timestamp):
                    assert not t.run_ids, f"{sensor} requested runs: {t.run_ids}"
                    if t.skip_reason:
                        return t.skip_reason
            return None

        return self.until(tick, f"a tick of {sensor}")

    def served(self) -> dict:
        return httpx.get(f"{self.api}/v1/model", timeout=30).json()

    def report(self, model: str, month: str) -> dict | None:
        raw = drift_reports.read(self.store, model, month)
        return json.loads(raw) if raw is not None else None

    def alert(self, n: int) -> dict:
        """The n-th alert received (1-based), once it has arrived."""
        return self.until(lambda: self.alerts[n - 1] if len(self.alerts) >= n else None,
                          f"alert #{n}")  # fmt: skip

    def cleaned(self) -> set[str]:
        return set(self.instance.get_materialized_partitions(dg.AssetKey("cleaned_monthly")))


def findings(alert: dict, month: str) -> list[str]:
    """What the blocking checks found in `month`, as the alert carries it."""
    return alert["details"]["findings"][month]


def month_file(staging: Path, month: str) -> Path:
    (path,) = staging.glob(f"*{month}*.parquet")
    return path


def rewrite(path: Path, change) -> Path:
    """`path`'s rows changed by `change`, written next to it (delivered later in one rename)."""
    frame = change(pd.read_parquet(path))
    out = path.with_name(f"changed-{path.name}")
    frame.to_parquet(out, index=False)
    return out


def deliver(loop: LoopHome, path: Path, name: str) -> float:
    """`path` lands as `name` in one rename; the moment it landed (epoch s)."""
    landed = time.time()
    os.replace(path, loop.landing / name)
    return landed


def test_the_operator_run_takes_the_right_decision_for_each_month(tmp_path):
    policies = tmp_path / "policies.yaml"
    policies.write_text(POLICIES)
    with webhook_receiver() as (hook, alerts):
        loop = LoopHome(tmp_path / "home", SCALE, policies=policies, alert_webhook=f"{hook}/hook")
        loop.land("..2021-12")
        staging = tmp_path / "staging"
        loop.land("2022-01,2022-02,2022-03,2022-04", into=staging)
        loop.land("2021-06", into=tmp_path / "resent")
        loop.housing("run", "--vintage", "2021-01", "--trials", "2")
        body = {"rows": holdout_records(loop.home, 1)}
        with (
            LoopProcesses(loop, tmp_path / "logs") as procs,
            loop.instance() as instance,
        ):
            api = procs.api()
            procs.daemon()
            s = Scenario(loop, procs, instance, api, alerts)
            first = s.served()
            v1 = str(first["model_version"])
            assert first["history_until"] == "2021-12"
            with steady_load(api, body, rate=10) as load:
                run_scenario(s, staging, tmp_path / "resent", v1)
                time.sleep(2)  # requests after the last swap
            assert load.samples and load.errors == 0, load.failures
            assert "model swapped" in procs.log("api")


def run_scenario(s: Scenario, staging: Path, resent: Path, v1: str) -> None:
    loop = s.loop

    # 1. A clean month: ingested and scored against the live champion; its zips' prices reach
    #    the served history without a retrain; too few new months to retrain.
    landed = deliver(loop, month_file(staging, "2022-01"), "2022-01.parquet")
    assert s.ingest("2022-01", landed).status == dg.DagsterRunStatus.SUCCESS
    s.until(lambda: s.served()["history_until"] == "2022-01", "history served to 2022-01")
    report = s.report(v1, "2022-01")
    assert report is not None and report["champion"] == v1
    assert report["status"] != "error", report["reasons"]
    assert "1 new month(s) since 2021-12 (< 6)" in s.tick_after(RETRAIN, time.time())

    # 2-4. A bad day, three files at once: 2022-02 with every price x1.4, 2022-03 cut short in
    #      transfer, and 2021-06 re-delivered with its prices shuffled among zips. The two new
    #      months go in one run, whose blocking contract check names each (the month-over-month
    #      rule; an unreadable file); the past month is held by the revision check, and what
    #      training and serving read keeps its accepted version. Each is alerted, none ingested.
    (accepted,) = loop.home.glob("**/cleaned_monthly/2021-06*")
    before = hashlib.sha256(accepted.read_bytes()).hexdigest()
    jumped = rewrite(month_file(staging, "2022-02"), lambda f: f.assign(price=f["price"] * 1.4))
    broken = staging / "broken-2022-03.parquet"
    data = month_file(staging, "2022-03").read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    rng = np.random.default_rng(0)
    poisoned = rewrite(
        month_file(resent, "2021-06"),
        lambda f: f.assign(price=rng.permutation(f["price"].to_numpy())),
    )
    landed = deliver(loop, jumped, "2022-02.parquet")
    deliver(loop, broken, "2022-03.parquet")
    deliver(loop, poisoned, "2021-06.parquet")
    assert s.ingest("2022-02..2022-03", landed).status == dg.DagsterRunStatus.FAILURE
    assert s.ingest("2021-06", landed).status == dg.DagsterRunStatus.FAILURE
    s.alert(2)
    alerts = {tuple(a["details"]["months"]): a for a in s.alerts}
    assert set(alerts) == {("2022-02", "2022-03"), ("2021-06",)}, s.alerts
    assert all(a["kind"] == "quarantined" for a in alerts.values())
    new, past = alerts[("2022-02", "2022-03")], alerts[("2021-06",)]
    assert any("moved more than 40% in one month" in f for f in findings(new, "2022-02"))
    assert any("cannot be read as .parquet" in f for f in findings(new, "2022-03"))
    assert any("--accept-revisions 2021-06" in f for f in findings(past, "2021-06"))
    assert hashlib.sha256(accepted.read_bytes()).hexdigest() == before
    assert not {"2022-02", "2022-03"} & s.cleaned()
    held = s.tick_after(NEW_DATA, time.time())
    assert "3 month(s) held since their last ingest failed" in held, held
    assert held.endswith("2021-06, 2022-02..2022-03"), held
    assert s.served()["history_until"] == "2022-01"

    # 5. Restaurant counts x3 (a new POI source): a month that passes its checks (held months do not block it) and
    #    drifts. The drift ERROR against the live champion retrains; the new vintage trains on
    #    the healthy months, names the two it lacks, passes the gate, and goes live.
    drifted = rewrite(
        month_file(staging, "2022-04"), lambda f: f.assign(restaurant=f["restaurant"] * 3)
    )
    landed = deliver(loop, drifted, "2022-04.parquet")
    assert s.ingest("2022-04", landed).status == dg.DagsterRunStatus.SUCCESS
    report = s.report(v1, "2022-04")
    assert report["status"] == "error" and any("restaurant" in r for r in report["reasons"])
    train = s.finished({"housing/sensor": "retrain"}, "train")
    assert train.tags["dagster/partition"] == "2021-05"  # holdout: the 12 months to 2022-04
    assert train.tags["housing/trigger"] == "drift", train.tags
    assert "restaurant" in train.tags["housing/reason"]
    assert train.tags.get("housing/gate") == "promoted", train.tags.get("housing/gate_reason")
    assert train.status == dg.DagsterRunStatus.SUCCESS
    served = s.until(
        lambda: str((m := s.served())["model_version"]) != v1 and m, "the new champion served"
    )
    v2 = str(served["model_version"])
    assert served["trained_through"] == "2022-04"  # refit on every healthy month before publish
    version = bundle.current_version(s.store)
    provenance = json.loads(s.store.read(f"bundles/{version}/provenance.json"))
    assert provenance["missing_months"] == ["2022-02", "2022-03"]
    for path in (loop.home / "serving" / "bundles" / version).rglob("*"):
        if path.is_file():  # other readers (another uid in a container) can read it
            assert stat.S_IMODE(path.stat().st_mode) & 0o044 == 0o044, path
    # The new champion's own view of the recent months, recomputed by the drift sensor.
    s.until(lambda: s.report(v2, "2022-04"), f"model v{v2}'s drift report of 2022-04")
    drift = httpx.get(f"{s.api}/v1/drift", timeout=30).json()
    assert str(drift["champion"]) == v2

    # 6. The jumped month re-sent with its true prices: released and ingested.
    landed = deliver(loop, month_file(staging, "2022-02"), "2022-02.parquet")
    assert s.ingest("2022-02", landed).status == dg.DagsterRunStatus.SUCCESS
    assert "2022-02" in s.cleaned()
    held = s.tick_after(NEW_DATA, time.time())
    assert "2 month(s) held" in held and held.endswith("2021-06, 2022-03")
    assert [a["kind"] for a in s.alerts] == ["quarantined"] * 2  # nothing crashed
