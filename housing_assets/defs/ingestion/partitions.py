"""Monthly partitions of the raw data.

Dynamic partitions keyed 'YYYY-MM': a month becomes a partition when a source delivers it
(registered by `housing run` and by the month-registration sensor), so new data needs no code
change, and the graph never shows phantom partitions for months that have no data -- a
calendar-based MonthlyPartitionsDefinition would list every month up to today as "missing".
"""

import dagster as dg

months = dg.DynamicPartitionsDefinition(name="month")
