"""The IO manager's two kinds of partitioned assets: monthly ones exchange {month: value}
dicts, vintage ones exchange their typed value (a frame, a JSON document, a class with
to_json/from_json) -- also when read back with `Definitions.load_asset_value`."""

import json
from dataclasses import asdict, dataclass

import dagster as dg
import pandas as pd
import pytest

from housing_assets.resources.io_manager import ParquetIOManager

vintages = dg.DynamicPartitionsDefinition(name="vintage")


@dataclass(frozen=True)
class Doc:
    name: str
    rounds: int

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Doc":
        return cls(**json.loads(text))


@dg.asset(partitions_def=vintages)
def table(context: dg.AssetExecutionContext) -> pd.DataFrame:
    return pd.DataFrame({"vintage": [context.partition_key], "x": [1.5]})


@dg.asset(partitions_def=vintages)
def doc(table: pd.DataFrame) -> Doc:
    return Doc(str(table["vintage"].iloc[0]), 7)


@dg.asset(partitions_def=vintages)
def report(doc: Doc, table: pd.DataFrame) -> dict:
    assert isinstance(doc, Doc)  # rebuilt from the type this function declares
    return {"name": doc.name, "rows": len(table)}


def test_vintage_assets_exchange_typed_values(tmp_path):
    io = ParquetIOManager(base_dir=str(tmp_path))
    defs = dg.Definitions(assets=[table, doc, report], resources={"io_manager": io})
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("vintage", ["2022-01"])
        result = dg.materialize(
            [table, doc, report],
            partition_key="2022-01",
            resources={"io_manager": io},
            instance=instance,
        )
        assert result.success
        assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*")) == [
            "doc/2022-01.json",
            "report/2022-01.json",
            "table/2022-01.parquet",
        ]
        assert json.loads((tmp_path / "report/2022-01.json").read_text()) == {
            "name": "2022-01",
            "rows": 1,
        }
        load = defs.load_asset_value
        assert load("doc", python_type=Doc, partition_key="2022-01", instance=instance) == Doc(
            "2022-01", 7
        )
        assert load("doc", partition_key="2022-01", instance=instance) == {  # undeclared: JSON
            "name": "2022-01",
            "rounds": 7,
        }
        frame = load("table", python_type=pd.DataFrame, partition_key="2022-01", instance=instance)
        assert frame["x"].tolist() == [1.5]
        with pytest.raises(FileNotFoundError, match="doc partition 2023-01 was never materialized"):
            instance.add_dynamic_partitions("vintage", ["2023-01"])
            load("doc", python_type=Doc, partition_key="2023-01", instance=instance)


def test_a_value_that_cannot_be_stored_is_refused_naming_its_type(tmp_path):
    @dg.asset(partitions_def=vintages)
    def odd() -> set:
        return {1, 2}

    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("vintage", ["2022-01"])
        result = dg.materialize(
            [odd],
            partition_key="2022-01",
            resources={"io_manager": ParquetIOManager(base_dir=str(tmp_path))},
            instance=instance,
            raise_on_error=False,
        )
    assert not result.success
    error = result.get_step_failure_events()[0].step_failure_data.error
    assert "not set" in str(error.message) + str(error.cause and error.cause.message)


months = dg.StaticPartitionsDefinition(["2020-01", "2020-02", "2020-03"])


@dg.asset(partitions_def=months)
def monthly(context: dg.AssetExecutionContext) -> dict:
    return {context.partition_key: pd.DataFrame({"month": [context.partition_key]})}


def test_a_consumer_declaring_available_gets_the_healthy_months_and_the_gaps(tmp_path):
    """A quarantined month (never materialized) fails a plain consumer naming it; one that
    declares `Available` (the `splits` asset) gets the others and the list of the missing."""
    from housing_assets.resources.io_manager import Available

    seen = {}

    @dg.asset(ins={"monthly": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())})
    def tolerant(monthly: Available) -> None:
        seen["months"], seen["missing"] = sorted(monthly), monthly.missing

    @dg.asset(ins={"monthly": dg.AssetIn(partition_mapping=dg.AllPartitionMapping())})
    def strict(monthly: dict) -> None:
        seen["strict"] = True

    io = {"io_manager": ParquetIOManager(base_dir=str(tmp_path))}
    with dg.instance_for_test() as instance:
        for month in ("2020-01", "2020-03"):  # 2020-02 quarantined: never written
            dg.materialize([monthly], partition_key=month, resources=io, instance=instance)
        assert dg.materialize(
            [monthly, tolerant], selection=[tolerant], resources=io, instance=instance
        ).success
        failed = dg.materialize(
            [monthly, strict],
            selection=[strict],
            resources=io,
            instance=instance,
            raise_on_error=False,
        )
    assert seen == {"months": ["2020-01", "2020-03"], "missing": ["2020-02"]}
    error = failed.get_step_failure_events()[0].step_failure_data.error
    assert "monthly partition 2020-02 was never materialized" in str(error.message) + str(
        error.cause and error.cause.message
    )
