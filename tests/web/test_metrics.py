"""``/metrics`` after real traffic: a customer's Slack command over HTTP (a request and
its ack, timed), the notification it causes refused once with a 429 by the fake Slack
(a rate-limited delivery, then a sent one), and the request's row in the inbox."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.web import WebServer
from entrypoints import operators
from tests.slack.conftest import CUSTOMER, RANDOM, World, config, fake, world

__all__ = ["config", "fake", "world"]  # the Slack suite's fixtures, used here

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture
async def scrape(world: World) -> AsyncIterator[str]:
    server = WebServer("127.0.0.1", 0)
    operators.mount(server, world.bot, {"CASEBOT_HTTP_PORT": "0"})
    await server.start()
    try:
        yield server.url + "/metrics"
    finally:
        await server.stop()


async def samples(url: str) -> Samples:
    async with aiohttp.ClientSession() as client, client.get(url) as r:
        assert r.status == 200
        text = await r.text()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def grew(before: Samples, after: Samples, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_a_slack_request_its_ack_a_429_and_the_inbox_show_on_metrics(
    world: World, scrape: str
) -> None:
    before = await samples(scrape)
    # Slack's client retries a 429 three times itself; the fourth reaches the outbox.
    world.fake.fail("chat.postMessage", retry_after=1, times=4)
    answer = await world.slack.command(CUSTOMER, "open Uploads fail over 2 GB", channel=RANDOM)
    assert answer.status == 200
    await world.settle()
    await world.later(timedelta(seconds=5))  # past the Retry-After: the outbox tries again
    after = await samples(scrape)
    # The request was acknowledged, and timed: under Slack's 3 seconds.
    assert grew(before, after, "casebot_requests_total", platform="slack", outcome="acked") == 1
    assert grew(before, after, "casebot_ack_seconds_count", platform="slack") == 1
    assert grew(before, after, "casebot_ack_seconds_bucket", platform="slack", le="3.0") == 1
    # The first post was refused with a 429, then went out.
    assert grew(before, after, "casebot_rate_limited_total", platform="slack") == 1
    assert grew(before, after, "casebot_deliveries_total", platform="slack", outcome="failed") == 1
    assert grew(before, after, "casebot_deliveries_total", platform="slack", outcome="sent") >= 1
    # The acknowledged request is in the inbox, handled.
    assert after[("casebot_inbox_rows", (("state", "done"),))] >= 1
    assert after.get(("casebot_inbox_rows", (("state", "pending"),)), 0.0) == 0


async def test_a_refused_slack_request_counts_as_refused(world: World, scrape: str) -> None:
    before = await samples(scrape)
    answer = await world.slack.post(b"token=x", "application/x-www-form-urlencoded", signature="")
    assert answer.status == 401
    after = await samples(scrape)
    assert grew(before, after, "casebot_requests_total", platform="slack", outcome="refused") == 1
    assert grew(before, after, "casebot_requests_total", platform="slack", outcome="acked") == 0
