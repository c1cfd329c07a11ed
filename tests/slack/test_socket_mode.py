"""Socket Mode: the adapter dials out (``apps.connections.open`` with the app-level
token), gets ``hello``, and acknowledges each envelope by its ``envelope_id``."""

from __future__ import annotations

from bot import metrics
from tests.slack.conftest import CUSTOMER, ENGINEER, SHARED, TRIAGE, World


async def test_socket_mode_connects_and_acknowledges_every_envelope(socket_world: World) -> None:
    world = socket_world
    fake = world.fake
    assert world.platform.mode == "socket" and world.platform.url is None
    opened = fake.calls_to("apps.connections.open")
    assert len(opened) == 1 and opened[0].token == "xapp-test-token"
    assert fake.calls[0].method == "auth.test" and fake.calls[0].token == "xoxb-test-token"
    assert fake.socket_connected.is_set()

    # A slash command: acknowledged with an empty payload, answered afterwards.
    ack = await world.slack.command(CUSTOMER, "open Webhooks arrive twice", channel=SHARED)
    assert ack.body == {}
    await world.settle()
    assert world.last_ephemeral(CUSTOMER).startswith("Opened CASE-1: Webhooks arrive twice")
    alert = fake.posts(TRIAGE, top=True)[0]

    # A button.
    await world.slack.click(ENGINEER, TRIAGE, alert, "case:CASE-1:claim")
    await world.settle()
    assert world.last_ephemeral(ENGINEER) == "CASE-1 is yours."

    # A modal whose errors travel back in the envelope's ack.
    await world.slack.command(CUSTOMER, "", channel=SHARED)
    await world.settle()
    form = world.opened_views()[-1]
    ack = await world.slack.submit(
        CUSTOMER, form, {"title": "", "type": "broken", "impact": "blocked"}
    )
    assert ack.body == {"response_action": "errors", "errors": {"title": "Title is needed."}}

    # An event, then Slack's retry of it (same event_id, retry_attempt 1): one effect.
    msg = fake.store_user_message(
        SHARED, CUSTOMER, "Seen again at 10:02", fake.posts(SHARED, top=True)[0]["ts"]
    )
    payload = world.slack.event_payload(
        {
            "type": "message",
            "channel": SHARED,
            "user": CUSTOMER,
            "text": msg["text"],
            "ts": msg["ts"],
            "thread_ts": msg["thread_ts"],
            "channel_type": "channel",
        },
        event_id="Ev0SOCKET",
    )
    assert await fake.envelope("events_api", payload) is not None
    assert await fake.envelope("events_api", payload, retry_attempt=1) is not None
    await world.settle()
    assert fake.reactions == [(SHARED, msg["ts"], "white_check_mark")]
    pings = [m for m in world.dm_posts(ENGINEER) if "Seen again at 10:02" in m["text"]]
    assert len(pings) == 1


async def test_malformed_envelopes_are_acknowledged_and_dropped_quietly(
    socket_world: World,
    caplog,  # type: ignore[no-untyped-def]
) -> None:
    """Over Socket Mode there is no signature to check, but what arrives is held to the
    same shapes as over HTTP: each odd envelope is acked (so Slack does not resend it),
    nothing reaches the core, no traceback is logged, and the connection keeps working."""
    world = socket_world
    fake = world.fake
    garbage = [
        ("interactive", {"type": "block_actions", "actions": [{"action_id": "x"}]}),  # no user
        ("interactive", {"type": "block_actions", "user": {"id": ENGINEER}, "actions": []}),
        ("interactive", {"type": "block_actions", "user": {"id": ENGINEER}, "actions": [7]}),
        ("interactive", {"type": "view_submission", "user": {"id": ENGINEER}}),  # no view
        ("interactive", {"no": "type"}),
        ("slash_commands", {"command": "/case", "text": "open x"}),  # no user_id
        ("events_api", {"type": "event_callback", "event": "not a dict"}),
        ("mystery", {"type": "whatever"}),
    ]
    for kind, payload in garbage:
        ack = await fake.envelope(kind, payload)
        assert ack is not None
    await world.settle()
    assert fake.posts(TRIAGE) == [] and fake.ephemeral == []
    assert "Traceback" not in caplog.text
    assert "refused a request (400): not a request casebot handles" in caplog.text

    ack = await world.slack.command(CUSTOMER, "open Still listening", channel=SHARED)
    await world.settle()
    assert world.last_ephemeral(CUSTOMER).startswith("Opened CASE-1: Still listening")


def counted(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, {"platform": "slack", **labels}) or 0.0


async def test_socket_mode_envelopes_are_counted_and_timed_on_metrics(socket_world: World) -> None:
    """The operator's /metrics times Socket Mode as it times the HTTP endpoint: each
    envelope from its arrival to its ack (well inside Slack's 3 seconds), and an
    envelope casebot does not handle counts as refused."""
    world = socket_world
    acked = counted("casebot_requests_total", outcome="acked")
    refused = counted("casebot_requests_total", outcome="refused")
    timed = counted("casebot_ack_seconds_count")
    within_3s = counted("casebot_ack_seconds_bucket", le="3.0")
    await world.slack.command(CUSTOMER, "open Charts are empty", channel=SHARED)
    await world.settle()
    assert world.last_ephemeral(CUSTOMER).startswith("Opened CASE-1: Charts are empty")
    assert counted("casebot_requests_total", outcome="acked") == acked + 1
    assert counted("casebot_ack_seconds_count") == timed + 1
    assert counted("casebot_ack_seconds_bucket", le="3.0") == within_3s + 1

    await world.fake.envelope("slash_commands", {"command": "/case", "text": "open x"})
    assert counted("casebot_requests_total", outcome="refused") == refused + 1
    assert counted("casebot_requests_total", outcome="acked") == acked + 1
