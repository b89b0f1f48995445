"""Small real jobs that fail the ways the platform's runs fail, named like the real jobs: a
training step that crashes, a model the promotion gate blocks, a month the contract check
quarantines. Used by the sensors' tests (run history, alerts) on a real instance."""

import dagster as dg

GATE_VERDICT = "MAPE 9.10% does not beat persistence"


@dg.op
def tuned_model():
    raise MemoryError("killed while tuning")


@dg.job(name="train")
def crashing_train():
    tuned_model()


@dg.asset
def holdout_metrics() -> int:
    return 1


@dg.asset_check(asset=holdout_metrics, blocking=True)
def promotion_gate() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False, description=GATE_VERDICT, metadata={"champion_beats_baselines": False}
    )


@dg.asset
def raw_monthly() -> int:
    return 1


@dg.asset_check(asset=raw_monthly, blocking=True)
def raw_contract() -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=False,
        metadata={
            "failed_months": dg.MetadataValue.json(["2016-05"]),
            "findings_by_month": dg.MetadataValue.json(
                {"2016-05": ["date_month == partition_month: 1 of 62 rows"]}
            ),
        },
    )


FAILING = dg.Definitions(
    assets=[holdout_metrics, raw_monthly],
    asset_checks=[promotion_gate, raw_contract],
    jobs=[
        dg.define_asset_job("train", selection=[holdout_metrics]),
        dg.define_asset_job("ingest", selection=[raw_monthly]),
    ],
)
