"""``/case stats [period]`` as the lead, an engineer and a customer see it."""

from __future__ import annotations

from storage.db import Database
from tests.harness import Dialog


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
