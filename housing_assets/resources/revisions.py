"""When a re-delivered past month is a correction (accepted) or a revision held for review."""

from dataclasses import fields

import dagster as dg
from pydantic import Field

from housing_core.revisions import RevisionRules

_RULES = RevisionRules()  # the one source of each default

ACCEPT_TAG = "housing/accept-revisions"  # run tag: months whose reviewed revision is accepted


class RevisionPolicy(dg.ConfigurableResource):
    price_tolerance: float = Field(
        default=_RULES.price_tolerance,
        ge=0,
        description="A zip's price moving more than this has moved.",
    )
    max_price_moved_share: float = Field(
        default=_RULES.max_price_moved_share,
        ge=0,
        le=1,
        description="Share of zips whose price moved above which a revision waits for review.",
    )
    max_column_changed_share: float = Field(
        default=_RULES.max_column_changed_share,
        ge=0,
        le=1,
        description="Share of rows any other column may change in.",
    )
    max_row_change_share: float = Field(
        default=_RULES.max_row_change_share,
        ge=0,
        le=1,
        description="Rows added or removed, as a share of the accepted rows.",
    )

    def rules(self) -> RevisionRules:
        return RevisionRules(**{f.name: getattr(self, f.name) for f in fields(RevisionRules)})
