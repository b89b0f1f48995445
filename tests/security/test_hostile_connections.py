"""Hostile connections held against a real API process (the API's entry command), each class
with ten attackers reconnecting as fast as the server closes them: every attacker gets the
refusal its class earns, a health probe beside them never fails, and the bodies the server
holds stay within its budget. The figures (20 attackers for 60 s) come from
benchmarks/hostile_requests.py."""

import pytest

from housing_harness import hostile_connections as hc
from housing_harness.loopback import api_process

pytestmark = pytest.mark.slow

BUDGET_MB = 64
BOUNDS = {
    "HOUSING_SERVING_HEADER_TIMEOUT_S": "1",
    "HOUSING_SERVING_BODY_TIMEOUT_S": "2",
    "HOUSING_SERVING_MAX_INFLIGHT_BODY_BYTES": str(BUDGET_MB << 20),
    "HOUSING_SERVING_API_KEY": "a-key-the-attackers-lack",
}


@pytest.fixture(scope="module")
def api(tmp_path_factory, tiny):
    store = tiny.publish(tmp_path_factory.mktemp("siege") / "serving")
    with api_process(store, env=BOUNDS) as running:
        yield running


@pytest.mark.parametrize(
    "attack, own, also",
    [
        # Two 31 MB bodies fit the budget and are cut at the body deadline (408); the rest are
        # refused unread. An attacker stopped while its body is held sees no answer ("closed").
        (hc.trickled_body, {"503"}, {"408", "closed"}),
        (hc.endless_head, {"431"}, {"408"}),  # 408: a head short of the cap at its deadline
        (hc.endless_body_after_an_early_answer, {"404", "405", "401", "400"}, set()),
        (hc.silent, {"408"}, {"held"}),  # held: inside its head deadline when the siege ends
    ],
    ids=["trickled bodies", "endless headers", "endless body, early answer", "silent"],
)
def test_each_attacker_is_refused_and_the_server_keeps_answering(api, attack, own, also):
    siege = hc.Siege(api.url, api.process.pid, attack, connections=10, hold=4, after=0)
    result = siege.run()
    assert result["connections_opened"] >= 10
    assert own <= set(result["answers"]) <= own | also, result["answers"]
    assert result["probe_failures"] == {}, result
    assert result["rss_peak_over_start_mb"] < BUDGET_MB + 150, result
