"""The serving fixtures (a private copy of the trained store, its holdout rows) for these tests."""

from tests.serving.conftest import holdout, store  # noqa: F401  (fixtures)
