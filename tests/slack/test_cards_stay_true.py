"""Issue #9 (part c) in Slack: the cards people look at say what is true after a
correction (severity, area), in place, and a correction never posts a second
claimable alert; a customer writing on a withdrawn case is kept and told how to reopen."""

from __future__ import annotations

from tests.slack.conftest import CUSTOMER, ENGINEER, SHARED, TRIAGE, World
from tests.slack.test_lifecycle import buttons, one


async def test_severity_and_area_edit_the_cards_in_place(world: World) -> None:
    fake, slack = world.fake, world.slack
    await slack.command(CUSTOMER, "open SSO login loops forever", channel=SHARED)
    await world.settle()
    alert = one(fake.posts(TRIAGE, top=True), "New case CASE-1")
    await slack.click(ENGINEER, TRIAGE, alert, "case:CASE-1:claim")
    await world.settle()
    case_card = one(fake.posts(SHARED, top=True), "CASE-1 opened")

    await slack.command(ENGINEER, "severity CASE-1 S1", channel=TRIAGE)
    await world.settle()
    card = fake.message(TRIAGE, alert["ts"])
    assert "New case CASE-1 [S1]" in card["text"] and "Severity: S1" in card["text"]
    assert "Claimed by Eve Laurent" in card["text"]
    assert "Severity: S1" in fake.message(SHARED, case_card["ts"])["text"]

    await slack.command(ENGINEER, "area CASE-1 sync", channel=TRIAGE)
    await world.settle()
    card = fake.message(TRIAGE, alert["ts"])
    assert "Area: sync" in card["text"] and "Claimed by Eve Laurent" in card["text"]
    # Still one alert for the case, and nothing in it to claim.
    one(fake.posts(TRIAGE, top=True), "New case CASE-1")
    assert "case:CASE-1:claim" not in buttons(card)


async def test_a_message_on_a_withdrawn_case_is_kept_and_says_how_to_reopen(
    world: World,
) -> None:
    fake, slack = world.fake, world.slack
    await slack.command(CUSTOMER, "open SSO login loops forever", channel=SHARED)
    await world.settle()
    await slack.command(CUSTOMER, "withdraw CASE-1", channel=SHARED)
    await world.settle()
    assert "`/case withdraw CASE-1 yes`" in world.ephemerals(CUSTOMER)[-1]
    await slack.command(CUSTOMER, "withdraw CASE-1 yes", channel=SHARED)
    await world.settle()
    await slack.command(CUSTOMER, "reply CASE-1 Actually it is back", channel=SHARED)
    await world.settle()
    told = world.ephemerals(CUSTOMER)[-1]
    # Nobody had taken it: the team has the message (not "its engineer").
    assert "Your message is kept on it and the support team has it." in told
    assert "`/case reopen CASE-1 &lt;reason&gt;`" in told  # as Slack escapes it
    staff = [m["text"] for m in fake.posts(TRIAGE) if "Actually it is back" in m.get("text", "")]
    assert staff  # the staff thread has it
