"""Where messages land when Slack does not let them land where they were meant to."""

from __future__ import annotations

from tests.slack.conftest import COLLEAGUE, CUSTOMER, ENGINEER, RANDOM, SHARED, TRIAGE, World


async def test_a_case_opened_where_the_bot_is_not_invited_lives_in_a_dm(world: World) -> None:
    fake = world.fake
    fake.not_member.add(RANDOM)
    await world.slack.command(CUSTOMER, "open Uploads fail over 2 GB", channel=RANDOM)
    await world.settle()
    assert fake.posts(RANDOM) == []
    dm = fake.dm(CUSTOMER)
    case_message = fake.posts(dm, top=True)[0]
    assert "CASE-1 opened" in case_message["text"]

    alert = fake.posts(TRIAGE, top=True)[0]
    await world.slack.click(ENGINEER, TRIAGE, alert, "case:CASE-1:claim")
    await world.settle()
    await world.slack.command(ENGINEER, "need-info CASE-1 Which browser?", channel=TRIAGE)
    await world.settle()
    assert "Which browser?" in fake.posts(dm, thread=case_message["ts"])[0]["text"]

    # The customer answers in that DM thread (a message.im event): recorded on the case.
    reply, _ = await world.slack.say(
        CUSTOMER, dm, "Firefox 128", thread_ts=case_message["ts"], channel_type="im"
    )
    await world.settle()
    assert (dm, reply["ts"], "white_check_mark") in fake.reactions


async def test_a_case_message_deleted_in_slack_is_posted_again_on_the_next_change(
    world: World,
) -> None:
    fake = world.fake
    await world.slack.command(CUSTOMER, "open Exports are empty", channel=SHARED)
    await world.settle()
    fake.messages[SHARED].clear()  # someone deleted the case message
    alert = fake.posts(TRIAGE, top=True)[0]
    await world.slack.click(ENGINEER, TRIAGE, alert, "case:CASE-1:claim")
    await world.settle()
    (reposted,) = fake.posts(SHARED, top=True)
    assert "Eve Laurent is working on your case." in reposted["text"]
    assert await world.bot.runtime.failed_outbox() == []


async def test_mentions_in_a_reply_read_as_names(world: World) -> None:
    fake = world.fake
    await world.slack.command(CUSTOMER, "open Reports lag", channel=SHARED)
    await world.settle()
    case_message = fake.posts(SHARED, top=True)[0]
    await world.slack.say(
        CUSTOMER, SHARED, f"My colleague <@{COLLEAGUE}> saw it too", thread_ts=case_message["ts"]
    )
    await world.settle()
    staff = fake.posts(TRIAGE, thread=fake.posts(TRIAGE, top=True)[0]["ts"])
    assert any("My colleague @Dora Umbrella saw it too" in m["text"] for m in staff)
    # Names are Slack's: the customer's when he first acted, the colleague's when first
    # mentioned; each looked up once, then remembered.
    assert [c.params for c in fake.calls_to("users.info")] == [
        {"user": CUSTOMER},
        {"user": COLLEAGUE},
    ]


async def test_the_web_api_is_called_as_slack_documents_it(world: World) -> None:
    fake = world.fake
    await world.slack.command(COLLEAGUE, "open Reports lag", channel=SHARED)
    await world.settle()
    alert = fake.posts(TRIAGE, top=True)[0]
    await world.slack.click(ENGINEER, TRIAGE, alert, "case:CASE-1:claim")
    await world.settle()

    assert fake.calls[0].method == "auth.test"  # checked once, at start-up
    assert len(fake.calls_to("auth.test")) == 1
    for call in fake.calls:
        if call.method == "response_url":
            assert call.token is None  # response_urls carry no token
            continue
        assert call.token == "xoxb-test-token", call.method
        if call.method.startswith("chat."):
            assert (call.verb, call.content_type) == ("POST", "application/json"), call.method
            assert isinstance(call.params["blocks"], list) and call.params["text"]
        elif call.method == "users.info":
            assert call.verb == "GET" and set(call.params) == {"user"}  # a query string
        else:
            assert call.verb == "POST", call.method
            assert call.content_type == "application/x-www-form-urlencoded", call.method
    # Everyone who acted is named once (then remembered).
    assert [c.params["user"] for c in fake.calls_to("users.info")] == [COLLEAGUE, ENGINEER]
    assert {c.method for c in fake.calls} >= {
        "auth.test",
        "users.info",
        "chat.postMessage",
        "chat.update",
        "conversations.open",
        "response_url",
    }
