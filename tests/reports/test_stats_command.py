"""``/case stats [period]`` as the lead, an engineer and a customer see it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.config.sections import Sla
from bot.durations import parse_duration
from storage.db import Database
from tests.harness import Dialog, load_test_config


async def test_the_lead_reads_the_headline_figures_for_a_period(db: Database) -> None:
    d = await Dialog.start(db)
    assert (await d.say("gus", "/case open Webhooks fail with 500")).ok
    await d.advance("30m")
    reply = await d.say("lee", "/case stats 7d")
    assert reply.ok
    lines = reply.text.splitlines()
    assert lines[0] == "Support, last 7 days:"
    assert lines[1] == "Opened 1 · resolved 0 · closed 0"
    assert "Backlog: 1 open — 1 waiting on us, 0 waiting on the customer" in lines
    assert "Survey: no answers" in lines


async def test_a_bad_period_is_refused_with_how_to_write_one(db: Database) -> None:
    d = await Dialog.start(db)
    reply = await d.say("lee", "/case stats fortnight")
    assert not reply.ok
    assert reply.text == (
        "I can't read the period 'fortnight'. "
        "Write 7d, 30d, 90d, or from..to as 2026-11-01..2026-11-30."
    )


async def test_statistics_are_for_the_lead(db: Database) -> None:
    d = await Dialog.start(db)
    for who in ("alice", "dana", "gus"):  # an engineer, a CSM, a customer
        reply = await d.say(who, "/case stats 7d")
        assert not reply.ok
        assert reply.text == "`/case stats` is not for you. Try `/case help`."


async def test_a_business_day_target_is_reported_in_business_time(db: Database) -> None:
    """The lead's SLA gives S2 one business day to a first response, in Rome. Gus (an
    enterprise account, so his blocked task is S2) writes on Friday at 16:00; Alice
    answers on Monday at 09:00: that took 17 business hours (8 on Friday, 9 on Monday),
    not 65, and the figure says so."""
    config = load_test_config()
    config.support.timezone = "Europe/Rome"
    config.sla = Sla(first_response={"S2": parse_duration("1bd")})  # type: ignore[dict-item]
    rome = ZoneInfo("Europe/Rome")
    d = await Dialog.start(db, config, start=datetime(2026, 11, 27, 16, 0, tzinfo=rome))
    key = await d.open_case("gus", "Cannot rename a dashboard", area="api", impact="blocked")
    await d.advance("65h")
    assert (await d.press("alice", f"case:{key}:replicating")).ok
    reply = await d.say("lee", "/case stats 7d")
    assert (
        "First response: median 17h 00m, 90th percentile 17h 00m "
        "(1 case; business days (Mon–Fri) for S2)"
    ) in reply.text.splitlines()
