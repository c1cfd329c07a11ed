"""HTTP mode at the door: signatures, url_verification, health, and acknowledging in
time whatever the core is doing."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import aiohttp

from tests.slack.conftest import CUSTOMER, ENGINEER, SHARED, TRIAGE, World
from tests.slack.driver import sign


async def test_a_bad_or_stale_signature_is_refused_with_401(world: World) -> None:
    body = urlencode(world.slack.command_payload(CUSTOMER, "open Sneaky", SHARED)).encode()
    form = "application/x-www-form-urlencoded"
    now = str(int(time.time()))

    forged = await world.slack.post(body, form, signature=sign("not-the-secret", now, body))
    stale_ts = str(int(time.time()) - 6 * 60)
    stale = await world.slack.post(body, form, timestamp=stale_ts)
    tampered = await world.slack.post(
        body + b"&x=1", form, timestamp=now, signature=sign(world.slack.secret, now, body)
    )
    unsigned = await world.slack.post(body, form, signature="")
    assert [a.status for a in (forged, stale, tampered, unsigned)] == [401, 401, 401, 401]

    await world.settle()
    assert world.fake.posts(TRIAGE) == []  # nothing reached the core
    assert world.ephemerals(CUSTOMER) == []


async def test_url_verification_is_answered_and_health_reported(world: World) -> None:
    challenge = {
        "token": "t",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification",
    }
    answer = await world.slack.post(json.dumps(challenge).encode(), "application/json")
    assert answer.status == 200
    assert answer.json() == {"challenge": challenge["challenge"]}

    async with aiohttp.ClientSession() as http:
        async with http.get(f"{world.platform.url}/healthz") as resp:
            assert resp.status == 200
            assert (await resp.json())["ok"] is True


async def test_requests_are_acknowledged_at_once_while_the_core_is_busy(world: World) -> None:
    """The database is held by someone else: Slack still gets its answer in
    milliseconds, and the work completes once the core is free again."""
    await world.slack.command(CUSTOMER, "open Reports are empty", channel=SHARED)
    await world.settle()
    alert = world.fake.posts(TRIAGE, top=True)[0]

    async with world.bot.db.transaction():  # the core cannot write until this ends
        command = await world.slack.command(CUSTOMER, "open Exports time out", channel=SHARED)
        click = await world.slack.click(ENGINEER, TRIAGE, alert, "case:CASE-1:claim")
        _, event = await world.slack.say(
            CUSTOMER, SHARED, "any news?", thread_ts=world.fake.posts(SHARED)[0]["ts"]
        )
        form = await world.slack.command(CUSTOMER, "", channel=SHARED)
        for answer in (command, click, event, form):
            assert answer.status == 200
            assert answer.seconds < 0.5, answer
        assert world.opened_views() == []  # the core is still blocked
    await world.settle()

    assert "Opened CASE-2: Exports time out." in " ".join(world.ephemerals(CUSTOMER))
    assert world.last_ephemeral(ENGINEER) == "CASE-1 is yours."
    form_view = world.opened_views()[-1]

    # A form submitted while the core is busy: its fields are checked without the core,
    # it is written to the inbox, the modal closes at once and the answer follows.
    async with world.bot.db.transaction():
        submitted = await world.slack.submit(
            CUSTOMER, form_view, {"title": "Slow dashboards", "type": "broken", "impact": "blocked"}
        )
        assert submitted.status == 200 and submitted.body == ""
        assert submitted.seconds < 1.0
    await world.settle()
    assert world.last_ephemeral(CUSTOMER).startswith("Opened CASE-3: Slow dashboards.")
