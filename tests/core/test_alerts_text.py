"""Alert text fits its receiver: at most 400 characters, cut after a whole word, and the fix
always whole at its end (the text was cut at ~400 characters mid-word and mid-command)."""

import pytest

from housing_core.alerts import TEXT_LIMIT, Alert, fit


def test_a_long_finding_is_cut_on_a_word_and_the_fix_survives():
    findings = "; ".join(
        f"2023-{m:02d}: median_list_price was reported for 40 of 40 zips the month before"
        for m in range(1, 13)
    )
    fix = "Deliver a corrected file for 2023-01,2023-02; the new-data sensor ingests it by itself."
    alert = Alert.compose("quarantined", "12 month(s) quarantined: " + findings, findings, fix,
                          run_id="r", job="ingest")  # fmt: skip
    assert len(alert.text) <= TEXT_LIMIT and len(alert.title) <= 80
    assert alert.text.endswith("… " + fix) and alert.fix == fix
    kept = alert.text.removesuffix(" " + fix).removesuffix("…")
    assert findings.startswith(kept) and findings[len(kept)] in " ;"  # a whole word


def test_short_text_is_kept_as_it_is():
    assert fit("train failed: MemoryError", 400) == "train failed: MemoryError"


def test_an_alert_over_the_limits_is_refused_where_it_is_built():
    with pytest.raises(ValueError, match=r"Alert\.compose"):
        Alert("run_failed", "t", "x" * (TEXT_LIMIT + 1), run_id="r", job="j")
