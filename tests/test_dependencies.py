"""The dependency pins that a resolver gets wrong (see the stack notes) stay right."""

import importlib.metadata as md


def test_dagster_integrations_match_the_core_release():
    core = md.version("dagster")
    minor = int(core.split(".")[1])
    for integration in ("dagster-aws", "dagster-mlflow"):
        version = md.version(integration)
        # Integrations are released as 0.(core minor + 16).patch alongside dagster 1.minor.patch.
        assert version.split(".")[1] == str(minor + 16), (integration, version, core)
        assert version.split(".")[2] == core.split(".")[2], (integration, version, core)


def test_the_dg_cli_moves_with_the_core_release():
    # dagster-dg-cli shares dagster's own version line (1.minor.patch), not the integrations'.
    assert md.version("dagster-dg-cli") == md.version("dagster")
    assert md.version("dagster-dg-core") == md.version("dagster")


def test_integrations_import():
    import dagster_aws.s3  # noqa: F401
    import dagster_mlflow  # noqa: F401


def test_the_api_and_the_shared_lib_import_no_dagster_ge_or_mlflow():
    import subprocess
    import sys

    code = (
        "import sys; import housing_core.contract, housing_core.cleaning, "
        "housing_core.sources, housing_serving.main; "
        "bad = [m for m in ('dagster', 'great_expectations', 'mlflow', 'optuna', 'housing_assets') "
        "if m in sys.modules]; "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_importing_the_domain_library_changes_nothing_in_the_process():
    """housing_core is a library: importing every module of it leaves the environment as it was
    (process settings belong to the entry points: the code location, the CLI, the servers)."""
    import subprocess
    import sys

    code = (
        # scikit-learn sets two OpenMP variables of its own on import: taken before the snapshot.
        "import os, sys, pkgutil, importlib, sklearn, housing_core; before = dict(os.environ); "
        "names = [m.name for m in pkgutil.walk_packages(housing_core.__path__, 'housing_core.')]; "
        "[importlib.import_module(n) for n in names]; "
        "changed = sorted(k for k in set(before) | set(os.environ) if before.get(k) != os.environ.get(k)); "
        "print(len(names), changed); sys.exit(1 if changed or len(names) < 30 else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
