"""The serving fixtures (a private store with the in-process model published, its holdout rows) for these tests."""

from tests.serving.conftest import holdout, store  # noqa: F401  (fixtures)
