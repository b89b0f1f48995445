"""Who answers for each asset: Dagster owners, shown on every asset page and filterable in the UI."""

DATA_PLATFORM = ["team:data-platform"]  # sources, the data contract, ingestion and its checks
ML = ["team:ml"]  # the model lineage of each vintage and the champion's monthly monitoring
