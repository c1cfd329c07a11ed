"""In Slack: the customer sees the impact casebot read from their words, corrects it with
a button, and never sees their account's tier; the team's card does (issue #9)."""

from __future__ import annotations

from tests.slack.conftest import CUSTOMER, SHARED, TRIAGE, World
from tests.slack.test_lifecycle import buttons, one


async def test_the_impact_read_from_the_words_is_shown_and_corrected(world: World) -> None:
    await world.slack.command(CUSTOMER, "open URGENT production down since 10:00", channel=SHARED)
    await world.settle()
    assert world.last_ephemeral(CUSTOMER).endswith("Severity S1.")
    case_message = one(world.fake.posts(SHARED, top=True), "CASE-1 opened")
    assert "Impact: Production is down (read from your words" in case_message["text"]
    assert "premium" not in case_message["text"]
    assert "case:CASE-1:impact:degraded" in buttons(case_message)
    alert = one(world.fake.posts(TRIAGE, top=True), "New case CASE-1")
    assert "premium" in alert["text"]  # staff see the tier

    await world.slack.click(CUSTOMER, SHARED, case_message, "case:CASE-1:impact:degraded")
    await world.settle()
    edited = world.fake.message(SHARED, case_message["ts"])
    assert "Impact: Production is degraded" in edited["text"]
    assert "case:CASE-1:impact:degraded" not in buttons(edited)
    assert "case:CASE-1:impact:production_down" in buttons(edited)
    assert "New case CASE-1 [S2]" in world.fake.message(TRIAGE, alert["ts"])["text"]
