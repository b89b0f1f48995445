"""Forecasting: every zip's price 1-24 months ahead from its own history and its market's.

No Dagster imports (the API serves a fitted forecaster from its JSON). `panel` turns HouseTS rows
into a months x zips grid, `signals` computes what is known at each origin month, `model` fits the
direct multi-horizon forecaster, `intervals` calibrates its bands, `protocol` scores it on the
HouseTS benchmark's own split, and `tuning` picks its settings on rolling-origin validation.
"""
