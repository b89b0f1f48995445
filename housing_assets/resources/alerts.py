"""Where alerts go: a webhook (HOUSING_ALERT_WEBHOOK_URL); unset, alerts are only logged."""

import dagster as dg
from pydantic import Field

from housing_core.alerts import Notifier, WebhookNotifier


class AlertNotifier(dg.ConfigurableResource):
    webhook_url: str | None = Field(
        default=None,
        description="POST each alert as JSON here (Slack-compatible `text`); unset: no alerts.",
    )
    timeout_s: float = Field(default=10.0, gt=0, description="Per delivery.")

    def notifier(self) -> Notifier | None:
        return WebhookNotifier(self.webhook_url, self.timeout_s) if self.webhook_url else None
