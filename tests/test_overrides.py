"""The framework classes the project subclasses, each held to the upstream version it was verified
on (docs/decisions/overrides.md): an upgrade that moves one fails here, by name, instead of in a
run. Each method an override redefines must still exist upstream with the same parameters."""

import importlib.metadata
import inspect

import pytest

from housing_assets import instance, liveness
from housing_serving import protocol

OVERRIDES = [
    (instance, instance.EventLogStorage),
    (instance, instance.HomeSqliteStorage),
    (instance, instance.HomeArtifactStorage),
    (instance, instance.HomeComputeLogManager),
    (liveness, liveness.LocalRunLauncher),
    (protocol, protocol.GuardedHttp),
]


def _upstream(cls: type) -> type:
    return next(base for base in cls.__mro__[1:] if not base.__module__.startswith("housing_"))


@pytest.mark.parametrize("module, cls", OVERRIDES, ids=[c.__name__ for _, c in OVERRIDES])
def test_each_override_runs_on_the_upstream_version_it_was_verified_on(module, cls):
    package, verified = module.UPSTREAM_VERSION
    installed = importlib.metadata.version(package)
    upstream = _upstream(cls)
    assert installed == verified, (
        f"{cls.__module__}.{cls.__name__} subclasses {upstream.__module__}.{upstream.__name__}, "
        f"verified on {package}=={verified}; {installed} is installed. Re-read the upstream class "
        f"against docs/decisions/overrides.md, run the tests it names, then move UPSTREAM_VERSION."
    )
    assert _upstream(cls).__module__.split(".")[0] == package.replace("-", "_")


@pytest.mark.parametrize("module, cls", OVERRIDES, ids=[c.__name__ for _, c in OVERRIDES])
def test_each_redefined_method_still_exists_upstream_with_its_parameters(module, cls):
    upstream = _upstream(cls)
    redefined = [
        name
        for name, value in vars(cls).items()
        if callable(getattr(value, "__func__", value)) and not name.startswith("_")
    ] + [name for name in ("__init__",) if name in vars(cls)]
    for name in redefined:
        if not hasattr(upstream, name):
            continue  # a helper of ours, not an override
        ours = inspect.signature(getattr(cls, name))
        theirs = inspect.signature(getattr(upstream, name))
        assert list(theirs.parameters) == list(ours.parameters)[: len(theirs.parameters)], (
            f"{cls.__name__}.{name}{ours} no longer matches {upstream.__name__}.{name}{theirs}"
        )
    assert redefined, f"{cls.__name__} overrides nothing"
