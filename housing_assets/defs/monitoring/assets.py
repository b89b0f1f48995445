"""Monthly monitoring of the champion: a drift report and every zip's prediction, per month."""

import json
from typing import Any

import dagster as dg
import pandas as pd

from housing_assets.defs.ingestion.partitions import BACKFILL_POLICY, months
from housing_assets.defs.metadata import rounded
from housing_assets.defs.owners import ML
from housing_assets.resources.automation import DriftPolicy, RetrainPolicy
from housing_assets.resources.io_manager import ParquetIOManager
from housing_assets.resources.mlflow_tracking import MlflowTracking
from housing_assets.resources.month_frames import MonthFrames
from housing_assets.resources.serving_store import ServingStore
from housing_core import contract as c
from housing_core import drift, drift_reports, refresh
from housing_core import features as F
from housing_core import live_performance as live
from housing_core.published import PublishedModel

GROUP = "monitoring"
MONTHLY: dict[str, Any] = {
    "partitions_def": months,
    "backfill_policy": BACKFILL_POLICY,  # the months of an ingest backfill
    "group_name": GROUP,
    "owners": ML,
    "code_version": "1",  # bump when the asset's logic (or the lib code it calls) changes
}


def champion_or_fail(serving_store: ServingStore) -> PublishedModel:
    champion = serving_store.champion()
    if champion is None:
        raise dg.Failure(
            f"no champion in {serving_store.store().describe()}: publish one first (`housing run`)"
        )
    return champion


def drift_features(champion: PublishedModel) -> list[str]:
    """The raw inputs the champion reads (date parts and price history are drift by design)."""
    return F.base_columns(champion.predictor.state.dropped)


# 4: a feature far off is an ERROR only when it also jumped from the month before.
@dg.asset(**{**MONTHLY, "code_version": "4"}, kinds={"json", "html"})
def drift_report(
    context: dg.AssetExecutionContext,
    cleaned_monthly: MonthFrames,
    serving_store: ServingStore,
    drift_policy: DriftPolicy,
    io_manager: dg.ResourceParam[ParquetIOManager],
) -> dict:
    """Month M against the champion's reference: each feature's move (and PSI/KS), prediction
    drift, MAPE when prices are known, judged by thresholds calibrated on the champion's own
    history (a month the champion was trained on is reported, not judged); JSON + a
    self-contained HTML report in the serving store's
    reports/drift/v<model version>/ (one per champion: a new champion's view does not overwrite
    the old one's)."""
    champion = champion_or_fail(serving_store)
    if champion.reference is None:
        raise dg.Failure(f"champion {champion.version} carries no drift reference: retrain it")
    reference = champion.reference
    features = drift_features(champion)
    out = {}
    prior: tuple[str, pd.DataFrame] | None = None
    for month in sorted(cleaned_monthly):  # two months in memory at a time
        before = _month_before(month)
        previous = (
            prior[1]
            if prior is not None and prior[0] == before
            else io_manager.stored("cleaned_monthly", before)
        )
        frame = cleaned_monthly[month]
        if frame.empty:
            raise dg.Failure(f"drift_report {month}: the cleaned month has no rows")
        prediction = champion.predictor.predict(frame)["prediction"].to_numpy()
        report = drift.compare(
            reference,
            frame,
            features,
            reference_prediction=reference["prediction"].to_numpy(),
            prediction=prediction,
            actual=frame[c.TARGET].to_numpy() if frame[c.TARGET].notna().any() else None,
            champion_mape=champion.holdout_mape,
            thresholds=drift_policy.thresholds(),
            calibration=champion.drift_calibration,
            previous=previous if previous is not None and len(previous) else None,
        )
        prior = (month, frame)
        if month <= champion.trained_through:
            report = drift.not_judged(report, champion.model_version, champion.trained_through)
        report.update(month=month, champion=champion.model_version, bundle=champion.version)
        page = drift.html(
            month,
            report,
            reference,
            frame,
            reference["prediction"].to_numpy(),
            prediction,
            champion.version,
        )
        store, mv = serving_store.store(), champion.model_version
        store.write(drift_reports.key(mv, month, "html"), page.encode())
        store.write(drift_reports.key(mv, month, "json"), json.dumps(report, indent=1).encode())
        html_path = f"{store.describe()}/{drift_reports.key(mv, month, 'html')}"
        context.log.info(
            f"drift {month}: {report['status']} ({', '.join(report['reasons']) or 'within thresholds'})"
        )
        out[month] = report
        context.add_asset_metadata(
            rounded(_drift_metadata(month, report, html_path)), partition_key=month
        )
    statuses = pd.Series([r["status"] for r in out.values()]).value_counts().to_dict()
    context.add_output_metadata(
        {
            "run_months": len(out),
            "run_status_counts": dg.MetadataValue.json(statuses),
            "champion": champion.version,
            "model_version": champion.model_version,
        }
    )
    return out


def _month_before(month: str) -> str:
    return str(pd.Period(month, "M") - 1)


def _drift_metadata(month: str, report: dict, html_path: str) -> dict:
    """One month's drift verdict, on that month's materialization."""
    return {
        "dagster/row_count": report["rows"],
        "status": report["status"],
        "share_drifting": report["share_drifting"],
        "prediction_psi": report["prediction_psi"],
        "mape": report["mape"] if report["mape"] is not None else float("nan"),
        "mape_ratio": report["mape_ratio"] if report["mape_ratio"] is not None else float("nan"),
        "report": dg.MetadataValue.path(html_path),
        "summary": dg.MetadataValue.md(drift.markdown(month, report)),
    }


@dg.asset(**MONTHLY, kinds={"pandas", "parquet"})
def batch_predictions(
    context: dg.AssetExecutionContext,
    cleaned_monthly: MonthFrames,
    serving_store: ServingStore,
) -> dict:
    """Every zip of month M scored by the champion, with 80/95% intervals and flags (Parquet)."""
    champion = champion_or_fail(serving_store)
    out = {}
    for month in sorted(cleaned_monthly):  # one month in memory at a time
        frame = cleaned_monthly[month]
        scored = frame[[c.ZIPCODE, c.DATE, c.CITY, c.CITY_FULL, c.TARGET]].reset_index(drop=True)
        scored = scored.join(champion.predictor.predict(frame).reset_index(drop=True))
        scored["model_version"] = champion.version
        out[month] = scored
        context.add_asset_metadata({"dagster/row_count": len(scored)}, partition_key=month)
    rows = sum(len(v) for v in out.values())
    context.add_output_metadata(
        {"run_rows": rows, "run_months": len(out), "champion": champion.version}
    )
    context.log.info(f"scored {rows:,} zip-months with {champion.version}")
    return out


@dg.asset(**MONTHLY, kinds={"parquet"})
def served_history(
    context: dg.AssetExecutionContext,
    cleaned_monthly: MonthFrames,
    serving_store: ServingStore,
) -> dict:
    """The champion's zip history advanced with month M and republished (same model, new version): predictions anchor on the freshest price without a retrain."""
    champion_or_fail(serving_store)
    frames = [cleaned_monthly[m] for m in sorted(cleaned_monthly)]
    done = refresh.refresh(serving_store.store(), pd.concat(frames, ignore_index=True))
    if done.superseded_by:
        context.log.warning(
            f"{done.superseded_by} went live while this refresh of {done.previous} wrote: not "
            f"republished; the new model's history takes these months when the drift sensor "
            f"recomputes its months"
        )
    elif done.published:
        context.log.info(
            f"history through {done.history_until}: {done.zips_updated:,} zips updated; "
            f"published {done.version} (was {done.previous})"
        )
    else:
        context.log.info(f"{done.version} already holds these months: nothing republished")
    context.add_output_metadata(
        {
            "version": done.version,
            "previous_version": done.previous,
            "history_until": done.history_until,
            "zips_updated": done.zips_updated,
            "republished": done.published,
            "superseded_by": str(done.superseded_by),
        }
    )
    return {
        month: {"version": done.version, "history_until": done.history_until}
        for month in cleaned_monthly
    }


@dg.asset(**MONTHLY, kinds={"json"})
def live_performance(
    context: dg.AssetExecutionContext,
    batch_predictions: MonthFrames,
    serving_store: ServingStore,
    mlflow_tracking: MlflowTracking,
    retrain_policy: RetrainPolicy,
) -> dict:
    """Month M's live error: what the champion answered for M (anchored on each zip's last price before M, as served) against M's prices and against persistence on the same rows, by months since the anchor, with band coverage; a record per (model version, month) in the serving store's reports/live/, and metrics stepped by month on the champion's MLflow run."""
    champion = champion_or_fail(serving_store)
    store = serving_store.store()
    run_id = champion.provenance.get("mlflow", {}).get("run_id")
    if run_id and not mlflow_tracking.has_run(run_id):
        context.log.warning(
            f"the champion's MLflow run {run_id} is not in {mlflow_tracking.tracking_uri}: its "
            "live records are kept in the serving store only"
        )
        run_id = None
    out = {}
    for month in sorted(batch_predictions):
        rec = live.record(batch_predictions[month], month, champion.model_version, champion.version)
        live.write(store, rec)
        if run_id:
            mlflow_tracking.log_live(run_id, rec)
        out[month] = rec
        context.add_asset_metadata(rounded(_live_metadata(rec)), partition_key=month)
        context.log.info(f"live {month}: {_live_line(rec)}")
    if retrain_policy.fallback_to_baseline:
        _fall_back(context, store, champion.model_version, retrain_policy.losing_months)
    return out


def _fall_back(context, store, model_version: str, losing_months: int) -> None:
    """Start, extend or end the API's fallback to persistence from the model's whole record."""
    records, _ = live.read(store, model_version)
    before = live.read_fallback(store)
    state = live.fallback(records, model_version, losing_months)
    live.write_fallback(store, state)
    was = live.serves_baseline(before, model_version)
    if state["active"] and not was:
        context.log.warning(
            f"model {model_version} lost to persistence in {', '.join(state['months'])}: the API "
            "serves persistence in its place until it wins a month"
        )
    elif was and not state["active"]:
        context.log.info(f"model {model_version} won {state['through']}: it answers again")


def _live_line(rec: dict) -> str:
    if rec["mape"] is None:
        return "no priced, anchored rows: nothing to judge"
    verdict = {True: "LOSING to persistence", False: "beats persistence", None: "too few rows"}
    return (
        f"MAPE {rec['mape']:.2f}% vs persistence {rec['persistence_mape']:.2f}% on "
        f"{rec['anchored_rows']:,} rows, 80% band covers {rec['coverage_80']:.0%}: "
        f"{verdict[rec['losing']]}"
    )


def _live_metadata(rec: dict) -> dict:
    nan = float("nan")
    return {
        "dagster/row_count": rec["anchored_rows"],
        "mape": rec["mape"] if rec["mape"] is not None else nan,
        "persistence_mape": rec["persistence_mape"] if rec["mape"] is not None else nan,
        "coverage_80": rec["coverage_80"] if rec["mape"] is not None else nan,
        "losing": str(rec["losing"]),
        "model_version": rec["model_version"],
        "by_horizon": dg.MetadataValue.json(rec["by_horizon"]),
    }
