"""`PublishedModel`: the one loaded-bundle type the API, the drift reports and batch scoring share."""

import json

import pandas as pd
import pytest

from housing_core import bundle
from housing_core.published import PublishedModel


@pytest.fixture
def store(tiny, tmp_path) -> bundle.LocalStore:
    return bundle.LocalStore(tiny.publish(tmp_path / "serving"))


def test_loads_the_current_bundle_and_reads_its_documents(tiny, store):
    model = PublishedModel.load(store)
    assert model.version == "2022-01-v1" == bundle.current_version(store)
    assert model.metrics == json.loads(tiny.files["metrics.json"])
    assert model.schema == json.loads(tiny.files["schema.json"])
    assert model.holdout_mape == pytest.approx(model.metrics["model"]["mape"])
    assert model.data_until == tiny.holdout["date"].max().strftime("%Y-%m")
    assert model.model_version == model.provenance["model_version"]


def test_optional_parts_are_parsed_on_first_use_only(store):
    model = PublishedModel.load(store)
    assert "explorer" not in vars(model) and "reference" not in vars(model)
    reference = model.reference
    assert isinstance(reference, pd.DataFrame) and len(reference) > 0
    assert model.reference is reference  # parsed once
    assert model.explorer is not None and model.explorer.catalog["metros"]
    assert "explorer" in vars(model)


def test_a_bundle_without_optional_files_still_serves(tiny, tmp_path):
    required = {name: data for name, data in tiny.files.items() if name in bundle.FILES}
    store = bundle.LocalStore(tmp_path / "serving")
    bundle.publish(store, "bare-v1", required)
    model = PublishedModel.load(store)
    assert model.explorer is None and model.reference is None
    rows = model.predictor.predict(pd.DataFrame(tiny.holdout.head(3)))
    assert len(rows) == 3 and rows["prediction"].gt(0).all()


def test_a_tampered_bundle_is_refused(store):
    (store.root / "bundles" / "2022-01-v1" / "metrics.json").write_text("{}")
    with pytest.raises(bundle.BundleError, match="checksum"):
        PublishedModel.load(store)
