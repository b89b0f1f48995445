"""Scale-out on a real 2-worker LocalCluster, as CI can run it: trained on the workers, the
model is as good as the in-process one on the holdout (MAPE within 2%, relative) and its examples
lived on both workers; the training asset uses the cluster when HOUSING_DASK is set (for tuning
too when its study is in a database); the
DaskCluster resource leaves no worker behind when a step fails."""

import os

import numpy as np
import psutil
import pytest

from housing_assets.resources.dask_cluster import DaskCluster
from housing_core import contract as c
from housing_core import dask_training, metrics, training, tuning
from housing_core import features as F
from housing_core import splits as S
from housing_core.cleaning import clean_month
from housing_core.synthetic import SyntheticSpec, generate_panel
from housing_harness.tiny import SETTINGS

pytestmark = pytest.mark.slow

TUNING = tuning.TuningSettings(nthread=1)


@pytest.fixture(scope="module")
def client():
    with DaskCluster(address="local:2", worker_memory="2GiB").client() as client:
        client.wait_for_workers(2)
        yield client


@pytest.fixture(scope="module")
def vintage():
    """Synthetic scale 0.05 (311 zips, 30 metros), vintage 2022-01, encoders fit on train."""
    cleaned, _ = clean_month(generate_panel(SyntheticSpec(seed=3, scale=0.05)))
    rows = S.assign(cleaned, S.Windows("2022-01"))
    return rows, F.fit(rows[rows[S.SPLIT] == S.TRAIN])


def holdout_mape(booster, rows, state) -> float:
    """Every holdout row served from the history before the holdout, as holdout_predictions
    serves it."""
    holdout = rows[rows[S.SPLIT] == S.HOLDOUT].reset_index(drop=True)
    before = F.anchor_table(rows[rows[S.SPLIT] != S.HOLDOUT], state)
    ex = training.served_examples(holdout, state, before)
    level = np.log(holdout["price"].to_numpy()) - ex.y  # the anchor (or cold) level
    predicted = np.exp(booster.predict(ex.dmatrix(state)) + level)
    return metrics.regression(holdout["price"], predicted)["mape"]


# What the 12-trial study of `housing train` tunes on this panel (seed 42, half the train rows),
# with row and column sampling off: xgboost.dask samples rows per worker, so with sampling on the
# cluster's model is the in-process one with other draws -- as far from it as another seed, and
# at this scale the in-process holdout MAPE itself moves 3.97-4.09% across XGBoost seeds, more
# than the 2% asked. Without sampling both paths are deterministic and differ only by how the
# cluster sketches quantiles and sums gradients. (A one-trial model -- depth 7, learning rate
# 0.18, 52 rounds -- turned those small differences into 0.4-2.6% between runs: too sensitive a
# yardstick.)
PARAMS = {
    "max_depth": 5,
    "learning_rate": 0.1515,
    "min_child_weight": 7.36,
    "subsample": 1.0,
    "colsample_bytree": 1.0,
    "gamma": 4.28e-07,
    "reg_alpha": 2.56e-04,
    "reg_lambda": 0.0367,
}
ROUNDS = 100


def test_trained_on_two_workers_the_model_is_as_good_and_the_data_lived_on_both(client, vintage):
    rows, state = vintage
    known, (n_train, n_eval) = S.stacked(rows, (S.TRAIN, S.EVAL))
    # The train + eval refit's encoding, as `training.train` builds it.
    evals = S.part(known, n_train, n_train + n_eval)[c.CITY]
    encoding = np.concatenate(
        [
            F.out_of_fold_metro_encoding(S.part(known, 0, n_train), state, TUNING.seed),
            evals.map(state.metro_encoding).fillna(state.global_mean).to_numpy(dtype="float64"),
        ]
    )
    args = (known, state, encoding, TUNING.seed + 1, PARAMS, ROUNDS, TUNING)
    here = training.InProcess()(*args)
    on_cluster = dask_training.DaskRefit(client)
    there = on_cluster(*args)

    (fit,) = on_cluster.fits
    placement, workers = fit.examples_by_worker, set(client.scheduler_info()["workers"])
    assert set(placement) == workers and len(workers) == 2  # XGBoost trained on both
    assert sum(placement.values()) == len(known) * training.draws_for(len(known))
    assert min(placement.values()) > 0.3 * sum(placement.values())
    # Every example lives where the plan put its metro, however busy a worker was.
    planned = dask_training.plan(known, sorted(workers))
    draws = training.draws_for(len(known))
    assert placement == {w: sum(len(p) for p in parts) * draws for w, parts in planned.items()}
    assert set(fit.workers_peak_rss_mb) == workers and fit.workers_lost == []
    assert all(mb > 50 for mb in [*fit.workers_peak_rss_mb.values(), fit.driver_peak_rss_mb])
    # Where the examples were trained decides the model: judged once they were where planned.
    assert there.num_boosted_rounds() == here.num_boosted_rounds() == ROUNDS
    local, dask = holdout_mape(here, rows, state), holdout_mape(there, rows, state)
    assert abs(dask - local) / local < 0.02, (local, dask)


def _restrictions(client, keys: list) -> list[set]:
    def on_scheduler(dask_scheduler, keys=keys):
        return [set(dask_scheduler.tasks[k].worker_restrictions or ()) for k in keys]

    return client.run_on_scheduler(on_scheduler)


def test_the_cluster_fits_on_exactly_the_in_process_examples_with_their_weights(client, tiny):
    rows, _ = S.stacked(tiny.splits, (S.TRAIN, S.EVAL))
    encoding = F.out_of_fold_metro_encoding(rows, tiny.state, 0)  # any per-row encoding will do
    here = training.training_examples(
        rows, tiny.state, F.anchor_table(rows, tiny.state), 5, encoding
    )
    built = dask_training.DaskRefit(client).examples(rows, tiny.state, encoding, 5)
    # Each chunk XGBoost will gather is held by its part's worker, and only there: restricted
    # to it, not just computed there this time (an optimized graph drops the restriction).
    workers = sorted(client.scheduler_info()["workers"])
    planned = {tuple(p): w for w, parts in dask_training.plan(rows, workers).items() for p in parts}
    want = [{planned[tuple(p)]} for p in built.positions]
    for array in (built.X, built.y, built.weight):
        keys = [f.key for f in client.futures_of(array)]
        held = {str(k): v for k, v in client.who_has(client.futures_of(array)).items()}
        assert [set(held[str(k)]) for k in keys] == want
        assert _restrictions(client, keys) == want
    X, y, weight = (a.compute() for a in (built.X, built.y, built.weight))
    n, draws = len(rows), training.draws_for(len(rows))
    # Part after part, each its draws stacked: back to the whole's order.
    order = np.concatenate(
        [(np.arange(draws)[:, None] * n + p[None, :]).ravel() for p in built.positions]
    )
    assert sorted(order.tolist()) == list(range(n * draws))  # every example, once
    np.testing.assert_array_equal(X, here.X[order])
    np.testing.assert_array_equal(y, here.y[order])
    np.testing.assert_array_equal(weight, training.horizon_weight(here.horizon)[order])
    assert len(set().union(*client.who_has(built.futures).values())) == 2


def test_the_final_refit_runs_on_the_cluster_with_the_in_process_counts(client, tiny):
    m = tiny.model
    here = training.final_refit(tiny.splits, tiny.state, m.tuning.best_params, m.rounds, SETTINGS)
    refit = dask_training.DaskRefit(client)
    there = training.final_refit(
        tiny.splits, tiny.state, m.tuning.best_params, m.rounds, SETTINGS, refit=refit
    )
    assert there.describe() == here.describe()  # rows, examples, rounds, months
    assert there.booster.num_boosted_rounds() == here.rounds
    (fit,) = refit.fits
    assert len(fit.examples_by_worker) == 2
    assert sum(fit.examples_by_worker.values()) == here.examples
    meta = dask_training.metadata(refit)
    assert meta["refit_on"] == "dask: 2 worker(s)"
    assert meta["dask_examples_by_worker"] == fit.examples_by_worker


def _materialize_tuned_model(client, tiny, storage_url: str, config: dict, tmp_path):
    """tuned_model in a Dagster run with HOUSING_DASK at the cluster's scheduler: its
    materialization's metadata and its artifact."""
    import dagster as dg

    from housing_assets.defs.training.model import tuned_model
    from housing_assets.defs.training.partitions import vintages
    from housing_assets.resources.mlflow_tracking import MlflowTracking, OptunaStorage
    from housing_assets.resources.threads import ThreadBudgetResource

    @dg.asset(name="splits", partitions_def=vintages)
    def splits():
        return tiny.splits

    @dg.asset(name="feature_state", partitions_def=vintages)
    def feature_state():
        return tiny.state

    resources = {
        "mlflow_tracking": MlflowTracking(
            tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
            artifact_location=str(tmp_path / "artifacts"),
        ),
        "optuna_storage": OptunaStorage(storage_url=storage_url),
        "threads": ThreadBudgetResource(override=1),
        "dask": DaskCluster(address=client.scheduler.address),
    }
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(vintages.name, ["2022-01"])
        result = dg.materialize_to_memory(
            [splits, feature_state, tuned_model],
            partition_key="2022-01",
            instance=instance,
            resources=resources,
            run_config={"ops": {"tuned_model": {"config": config}}},
        )
    (materialized,) = result.asset_materializations_for_node("tuned_model")
    meta = {k: v.value for k, v in materialized.metadata.items()}
    return meta, result.output_for_node("tuned_model")


def test_the_training_asset_refits_on_the_cluster_when_dask_is_set(client, tiny, tmp_path):
    """`train`'s refit runs on the cluster and the materialization says where its examples
    lived; with the study in a local journal the tuning stays in the step's process."""
    meta, artifact = _materialize_tuned_model(
        client,
        tiny,
        f"journal:///{tmp_path / 'optuna.journal'}",
        {"n_trials": 1, "max_rounds": 40, "early_stopping_rounds": 10},
        tmp_path,
    )
    assert meta["refit_on"] == "dask: 2 worker(s)"
    examples = meta["dask_examples_by_worker"]
    assert set(examples) == set(client.scheduler_info()["workers"])
    known = int((tiny.splits[S.SPLIT] != S.HOLDOUT).sum())
    assert sum(examples.values()) == known * training.draws_for(known)
    assert artifact.rounds == meta["refit_rounds"] > 0
    assert "tuned_on" not in meta and meta["trials_new"] == 1


def test_the_training_asset_tunes_on_the_cluster_when_its_study_is_in_a_database(
    client, tiny, tmp_path
):
    config = {"n_trials": 4, "max_rounds": 40, "early_stopping_rounds": 10}
    meta, artifact = _materialize_tuned_model(
        client, tiny, f"sqlite:///{tmp_path / 'optuna.db'}", config, tmp_path
    )
    assert meta["tuned_on"] == "dask: 2 worker(s)"
    by_worker = meta["dask_trials_by_worker"]
    assert len(by_worker) == 2 and sum(by_worker.values()) == config["n_trials"]
    assert meta["trials_new"] == config["n_trials"] and meta["trials_orphaned"] == 0
    assert meta["refit_on"] == "dask: 2 worker(s)" and artifact.rounds > 0


def test_a_scheduler_address_connects_without_owning_the_cluster(client):
    with DaskCluster(address=client.scheduler.address).client() as other:
        assert other is not client
        assert len(other.scheduler_info()["workers"]) == 2
    assert client.submit(sum, [1, 2]).result() == 3  # the cluster outlived the other client


def test_a_failed_step_leaves_no_worker_running():
    resource = DaskCluster(address="local:1", worker_memory="1GiB")
    with pytest.raises(RuntimeError, match="the step failed"), resource.client() as client:
        pids = list(client.run(os.getpid).values())  # the nanny lives in this process
        assert pids and os.getpid() not in pids
        raise RuntimeError("the step failed")
    procs = [psutil.Process(pid) for pid in pids if psutil.pid_exists(pid)]
    _, alive = psutil.wait_procs(procs, timeout=15)
    assert not [p for p in alive if p.status() != psutil.STATUS_ZOMBIE]
