"""Training vintages: a vintage is the month the holdout starts ('2022-01' = the reference split).

Dynamic, like the months: retraining is adding a vintage and materializing it, and the UI lists
the model's history vintage by vintage. Every vintage reads all cleaned months through an
AllPartitionMapping (it needs the whole history up to today) rather than through a consolidated
panel asset, which would rewrite the full 884k-row table on disk for every new month.
"""

import dagster as dg

VINTAGE = "vintage"
vintages = dg.DynamicPartitionsDefinition(name=VINTAGE)
all_months = dg.AllPartitionMapping()
