"""Raw HouseTS rows -> model features: the ONE place, used by training and by the API.

No Dagster, no pickle: the fitted state is a plain JSON document (`FeatureState.to_json`) and the
zip history a small table (`housing_core/anchors.py`), so the serving image rebuilds exactly the features
the model was trained on.

The target is the log change from an anchor level. A row whose zip has a known price before its
month is ANCHORED on that price (`horizon` = months since it) and its features describe what
changed since: the zip's and metro's momentum before the anchor, their trends carried over the
horizon, and each market stat now against its smoothed level then. A row without one (an unseen
zip: the COLD path) is anchored on the month's median list price, else the census home value,
else the metro's level; its anchored features are missing and the trees route it apart.

  * the row's own stats (`median_sale_price` dropped by default: the reference leakage rule);
  * date parts: month, quarter (not the year: see DATE_PARTS);
  * zipcode frequency: share of train rows per zip (0 for a zip never seen -> flagged);
  * metro target encoding: smoothed mean log price per metro, fitted on TRAIN rows only; the
    train rows themselves get out-of-fold values (folds grouped by zipcode);
  * anchored features (above); missing values stay NaN (XGBoost learns where to send them).

Trees cannot extrapolate a price level they never saw -- why a level model's error doubles after
the 2020-22 boom -- but they can predict a change from a known level.
"""

from housing_core.features.rows import NUMERIC_COLUMNS, NUMERIC_POSITION, Rows
from housing_core.features.state import (
    DATE_PARTS,
    ENCODED,
    FOLDS,
    LEAKAGE_DROP,
    LEVELS,
    MAX_OFFSET,
    METRO_TRENDS,
    SPLIT_COLUMN,
    STATE_VERSION,
    TARGETS,
    TRENDS,
    FeatureState,
    anchor_table,
    anchored_columns,
    base_columns,
    fit,
    leak_problems,
    out_of_fold_metro_encoding,
)
from housing_core.features.transform import (
    build,
    cold_level,
    derived_columns,
    flag_arrays,
    flags,
    horizon,
    log_level,
    matrix,
    no_anchors,
    served_anchors,
    target,
    to_price,
)

__all__ = [
    "DATE_PARTS", "ENCODED", "FOLDS", "LEAKAGE_DROP", "LEVELS", "MAX_OFFSET", "METRO_TRENDS",
    "NUMERIC_COLUMNS", "NUMERIC_POSITION", "SPLIT_COLUMN", "STATE_VERSION", "TARGETS", "TRENDS",
    "FeatureState", "Rows", "anchor_table", "anchored_columns", "base_columns", "build",
    "cold_level", "derived_columns", "fit", "flag_arrays", "flags", "horizon", "leak_problems",
    "log_level", "matrix", "no_anchors", "out_of_fold_metro_encoding", "served_anchors", "target",
    "to_price",
]  # fmt: skip
