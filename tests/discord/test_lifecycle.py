"""The whole case life cycle on Discord, end to end: a customer, two engineers and a CSM
driving the real core through the adapter, over the fake Discord's gateway and REST."""

from __future__ import annotations

from datetime import timedelta

from storage.keys import next_key
from storage.models import KbArticle
from tests.discord.conftest import (
    APPS,
    ENG,
    INES,
    KAI,
    LENA,
    OMAR,
    ORBIT_CHANNEL,
    ROSA,
    TOMAS,
    World,
)

OPEN_VALUES = {
    "title": "Sync lags two hours behind",
    "area": "sync",
    "type": "broken",
    "impact": "degraded",
    "description": "Since Friday the replication lag is growing.",
}


async def open_by_form(world: World, user: int = ROSA, **values: str) -> str:
    """``/case open`` with no title, then the modal; returns the case key."""
    asked = await world.slash(user, APPS, "open")
    assert asked.response_type == 9, asked.text()  # a modal, as the first answer
    done = await world.submit(user, asked, **{**OPEN_VALUES, **values})
    assert done.ephemeral() and done.text().startswith("Opened CASE-"), done.text()
    return done.text().split()[1].rstrip(":")


async def test_open_with_the_form_gives_a_private_thread_a_triage_alert_and_pings(
    world: World,
) -> None:
    fake = world.fake
    asked = await world.slash(ROSA, APPS, "open")
    modal = asked.modal
    assert modal is not None and modal["title"] == "Open a support case"
    assert [c["component"]["custom_id"] for c in modal["components"]] == [
        "title",
        "area",
        "type",
        "impact",
        "description",
    ]
    area = modal["components"][1]["component"]
    assert [o["value"] for o in area["options"]] == [
        "sync",
        "auth",
        "billing",
    ]  # from the configuration

    done = await world.submit(ROSA, asked, **OPEN_VALUES)
    assert done.text() == "Opened CASE-1: Sync lags two hours behind. Severity S2."
    assert done.ephemeral()

    # One private thread in the team channel (no channel per case), with the customer
    # and the engineer casebot assigned (omar: best at sync) in it.
    (thread,) = fake.threads_in(APPS)
    assert thread["type"] == 12 and thread["thread_metadata"]["invitable"] is False
    assert thread["name"].startswith("CASE-1")
    thread_id = int(thread["id"])
    assert {ROSA, OMAR} <= fake.thread_members[thread_id]
    opened = fake.bot_posts(thread_id)[0]
    assert opened["embeds"][0]["title"] == "CASE-1 opened: Sync lags two hours behind"
    # The impact the customer chose, with a button for each other one, until work starts.
    assert world.buttons(opened) == [
        "case:CASE-1:escalate",
        "case:CASE-1:impact:production_down",
        "case:CASE-1:impact:blocked",
        "case:CASE-1:impact:question",
    ]

    # The triage alert in the team channel, posted once as it was when the open
    # committed: omar already had the case.
    (alert,) = fake.bot_posts(APPS)
    embed = alert["embeds"][0]
    assert embed["title"] == "New case CASE-1 [S2]: Sync lags two hours behind"
    # Assigned by skill, not claimed: the card says so (issue #9).
    assert {f["name"]: f["value"] for f in embed["fields"]}["Status"] == "Assigned to Omar Haddad"
    assert "case:CASE-1:assign" in world.buttons(alert)
    assert alert["edited_timestamp"] is None  # one post, no edit a moment later

    # The assignment ping: a DM that really pings omar, and only omar.
    (ping,) = fake.dms(OMAR)
    assert ping["content"] == f"<@{OMAR}>"
    assert fake.pings[int(ping["id"])].users == {OMAR}
    assert ping["embeds"][0]["title"].startswith("CASE-1 is yours")
    assert world.buttons(ping) == ["case:CASE-1:replicating"]


async def test_the_whole_life_cycle(world: World) -> None:
    fake = world.fake
    key = await open_by_form(world)
    thread = world.case_thread()

    # The engineer starts from the button in his DM.
    (ping,) = fake.dms(OMAR)
    started = await world.press(OMAR, ping, "case:CASE-1:replicating")
    assert started.text() == "CASE-1: replicating." and started.ephemeral()

    # He asks for information; the customer answers by writing in the thread.
    asked = await world.slash(
        OMAR, APPS, "need-info", case=key, question="Which region is lagging?"
    )
    assert "chase sequence is running" in asked.text()
    assert any(
        e["title"].startswith("Omar Haddad needs more information") for e in world.embeds(thread)
    )
    answer = await world.say(ROSA, thread, "eu-west-1, since the upgrade")
    assert (thread, int(answer["id"]), "\N{WHITE HEAVY CHECK MARK}") in fake.reactions
    assert any("wrote on CASE-1" in t for t in world.dm_titles(OMAR))
    shown = await world.slash(ROSA, APPS, "show", case=key)
    assert (
        "eu-west-1, since the upgrade" in shown.text() and "State: being replicated" in shown.text()
    )

    # A chase timer that was due later fires nothing: the answer stopped the chase.
    before = len(fake.bot_posts(thread))
    await world.later(timedelta(days=3))
    assert not any(
        "Reminder" in e.get("title", "")
        for e in fake.bot_posts(thread)[before:]
        for e in e.get("embeds", [])
    )

    # A proposal; the customer rejects it with a reason from the modal.
    await world.slash(OMAR, APPS, "propose", case=key, resolution="Raise the batch size to 500.")
    proposal = world.last_post_with(thread, "case:CASE-1:reject")
    assert world.buttons(proposal)[:2] == ["case:CASE-1:confirm", "case:CASE-1:reject"]
    reject = await world.press(ROSA, proposal, "case:CASE-1:reject")
    assert reject.response_type == 9 and reject.modal is not None
    rejected = await world.submit(ROSA, reject, reason="Still lagging after the change.")
    assert rejected.text() == "Understood. CASE-1 is back with its engineer."
    assert any("rejected the resolution" in t for t in world.dm_titles(OMAR))

    # A second proposal, confirmed with the button.
    await world.slash(OMAR, APPS, "propose", case=key, resolution="Apply hotfix 4.2.1.")
    proposal = world.last_post_with(thread, "case:CASE-1:confirm")
    confirmed = await world.press(ROSA, proposal, "case:CASE-1:confirm")
    assert confirmed.text() == "Thank you! CASE-1 is resolved."
    case_message = fake.bot_posts(thread)[0]
    assert {f["name"]: f["value"] for f in case_message["embeds"][0]["fields"]}[
        "State"
    ] == "resolved"
    assert world.buttons(case_message) == []  # no Escalate on a resolved case

    # The survey: 1-5 buttons, then the optional comment modal.
    survey = world.last_post_with(thread, "case:CASE-1:rate:5")
    assert world.buttons(survey) == [f"case:CASE-1:rate:{n}" for n in range(1, 6)]
    rated = await world.press(ROSA, survey, "case:CASE-1:rate:4")
    assert rated.response_type == 9
    assert rated.modal is not None and rated.modal["title"] == "Anything to add?"
    thanks = await world.submit(ROSA, rated, comment="Quick and kind, thanks.")
    assert thanks.ephemeral()
    stats = await world.slash(world_lead(world), APPS, "reports stats")
    assert "Survey: 4.0/5 over 1 answer (" in stats.text()


def world_lead(world: World) -> int:
    (lead,) = world.config.leads()
    return int(lead.identities["discord"])


async def test_a_case_waiting_in_triage_is_claimed_from_the_alert(world: World) -> None:
    key = await open_by_form(world, title="Invoice charged twice", area="billing", impact="blocked")
    alert = world.last_post_with(APPS, f"case:{key}:claim")
    claimed = await world.press(INES, alert, f"case:{key}:claim")
    assert claimed.text() == f"{key} is yours." and claimed.ephemeral()
    alert = world.fake.messages[int(alert["id"])]
    assert f"case:{key}:claim" not in world.buttons(alert)  # edited in place
    # The thread now has the engineer who claimed it.
    assert INES in world.fake.thread_members[world.case_thread()]
    # The staff thread hangs from the alert and carries staff-only traffic.
    await world.slash(INES, APPS, "note", case=key, text="Looks like a retry bug.")
    staff = int(alert["id"])
    assert world.fake.channels[staff]["type"] == 11  # a public thread started from the alert
    assert any(e["title"] == "Note from Ines Duarte" for e in world.embeds(staff))
    # Staff writing in the staff thread add internal notes.
    await world.say(INES, staff, "Checked the payment logs.")
    timeline = await world.slash(INES, APPS, "show", case=key)
    assert "Checked the payment logs." in timeline.text()
    customer_view = await world.slash(ROSA, APPS, "show", case=key)
    assert "Checked the payment logs." not in customer_view.text()


async def test_escalation_reaches_the_csm_who_acknowledges(world: World) -> None:
    key = await open_by_form(world)
    opened = world.fake.bot_posts(world.case_thread())[0]
    asked = await world.press(ROSA, opened, f"case:{key}:escalate")
    assert asked.response_type == 9
    done = await world.submit(ROSA, asked, reason="Our month-end close depends on it.")
    assert done.text() == f"{key} is escalated to Kai Brennan."
    (dm,) = world.fake.dms(KAI)
    assert dm["content"] == f"<@{KAI}>" and world.fake.pings[int(dm["id"])].users == {KAI}
    assert dm["embeds"][0]["title"].startswith(f"Escalation on {key}")
    assert world.buttons(dm) == [
        f"case:{key}:ack",
        f"case:{key}:raise",
        f"case:{key}:assign",
        f"case:{key}:join",
    ]
    acked = await world.press(KAI, dm, f"case:{key}:ack")
    assert acked.text() == f"Acknowledged the escalation of {key}."
    assert any(
        e["title"].startswith("Kai Brennan has your escalation")
        for e in world.embeds(world.case_thread())
    )


async def test_the_chase_ends_in_a_phone_call_task(world: World) -> None:
    key = await open_by_form(world)
    await world.slash(OMAR, APPS, "replicating", case=key)
    await world.slash(OMAR, APPS, "need-info", case=key, question="Can you send the logs?")
    await world.later(timedelta(days=1))
    thread = world.case_thread()
    assert any(t.startswith(f"Reminder 1 on {key}") for t in world.titles(thread))
    await world.later(timedelta(days=1))
    task = next(
        m for m in world.fake.dms(OMAR) if m["embeds"][0]["title"].startswith("Call the customer")
    )
    fields = {f["name"]: f["value"] for f in task["embeds"][0]["fields"]}
    assert fields["Phone"] == "+1 555 0123"
    assert world.fake.pings[int(task["id"])].users == {OMAR}
    reached = await world.press(OMAR, task, f"case:{key}:called:reached")
    assert reached.text().startswith("Recorded: customer reached")
    await world.later(timedelta(days=5))
    shown = await world.slash(ROSA, APPS, "show", case=key)
    assert "State: waiting on the customer" in shown.text()
    assert "unresponsive" not in shown.text()


async def test_engineering_issues_are_followed_and_fixed(world: World) -> None:
    # tomas is not configured: he is Helix Bio by the account's Discord role.
    asked = await world.slash(TOMAS, APPS, "open")
    done = await world.submit(
        TOMAS, asked, title="SSO login loops", area="auth", type="broken", impact="blocked"
    )
    key = done.text().split()[1].rstrip(":")
    thread = world.case_thread()
    assert {TOMAS, INES} <= world.fake.thread_members[thread]  # ines: best at auth
    logged = await world.slash(INES, APPS, "eng defect", case=key, title="SSO token refresh loops")
    assert "ENG-1" in logged.text()
    update = world.last_post_with(thread, "eng:ENG-1:follow")
    followed = await world.press(TOMAS, update, "eng:ENG-1:follow")
    assert followed.ephemeral()
    assert "ENG-1" in followed.text()
    fixed = await world.slash(
        INES, ENG, "eng status", issue="ENG-1", status="fixed", note="Released in 4.3"
    )
    assert fixed.ephemeral() and "ENG-1" in fixed.text()
    titles = world.titles(thread)
    assert any("ENG-1" in t for t in titles)
    proposal = world.last_post_with(thread, f"case:{key}:confirm")
    assert proposal["embeds"][0]["title"].endswith(f"proposes a resolution for {key}")


async def test_autocomplete_offers_the_cases_a_person_may_see(world: World) -> None:
    key = await open_by_form(world)
    typing = await world.typing(ROSA, APPS, "show", focus="case", case="CASE")
    assert typing.response_type == 8
    assert typing.choices and typing.choices[0]["value"] == key
    assert typing.choices[0]["name"].startswith(f"{key} · Sync lags")
    # Someone unknown sees nothing.
    stranger = await world.typing(710000000000000399, APPS, "show", focus="case", case="")
    assert stranger.choices == []
    areas = await world.typing(OMAR, APPS, "triage area", focus="area", case=key, area="sig")
    assert [c["value"] for c in areas.choices or []] == ["auth"]


async def test_an_account_with_its_own_channel_gets_its_threads_there(world: World) -> None:
    asked = await world.slash(LENA, ORBIT_CHANNEL, "open")
    done = await world.submit(
        LENA, asked, title="Sync stalls at night", area="sync", type="broken", impact="blocked"
    )
    assert done.text().startswith("Opened CASE-1")
    # The thread lives where only Orbit (and staff) look; the team channel keeps the alert.
    assert world.fake.threads_in(APPS) == []
    thread = world.case_thread(ORBIT_CHANNEL)
    assert {LENA, OMAR} <= world.fake.thread_members[thread]
    assert world.titles(APPS)[0].startswith("New case CASE-1")
    await world.slash(OMAR, APPS, "replicating", case="CASE-1")
    await world.slash(OMAR, APPS, "need-info", case="CASE-1", question="When does it stall?")
    await world.say(LENA, thread, "Around 02:00 UTC")
    shown = await world.slash(OMAR, APPS, "show", case="CASE-1")
    assert "Around 02:00 UTC" in shown.text() and "being replicated" in shown.text()


async def test_knowledge_first_an_article_that_solves_it_closes_the_case(world: World) -> None:
    async with world.bot.db.transaction() as s:
        key = await next_key(s, "KB")
        now = world.clock.now()
        s.add(
            KbArticle(
                key=key,
                title="Sync lag after an upgrade",
                symptoms="replication lag grows after upgrading the agent",
                resolution="Clear the agent cache and restart it.",
                area="sync",
                tags=[],
                status="published",
                created_at=now,
                updated_at=now,
            )
        )
    case = await open_by_form(world, title="Sync lag after upgrade", impact="blocked")
    thread = world.case_thread()
    suggestions = world.last_post_with(thread, f"case:{case}:kb_accept:{key}")
    assert world.buttons(suggestions) == [f"case:{case}:kb_accept:{key}", f"case:{case}:kb_reject"]
    solved = await world.press(ROSA, suggestions, f"case:{case}:kb_accept:{key}")
    assert solved.text() == f"Glad {key} solved it. {case} is resolved."
    assert world.last_post_with(thread, f"case:{case}:rate:1")  # the survey follows


async def test_assign_and_triage_corrections_from_the_alert_use_select_menus(world: World) -> None:
    case = await open_by_form(
        world, title="Invoice charged twice", area="billing", impact="blocked"
    )
    alert = world.last_post_with(APPS, f"case:{case}:assign")
    lead = world_lead(world)
    asked = await world.press(lead, alert, f"case:{case}:assign")
    assert asked.modal is not None
    select = asked.modal["components"][0]["component"]
    assert select["type"] == 3
    assert [o["label"] for o in select["options"]] == ["Omar Haddad", "Ines Duarte", "Noor Aziz"]
    done = await world.submit(lead, asked, person="ines")
    assert done.text() == f"{case} is now assigned to Ines Duarte."
    assert INES in world.fake.thread_members[world.case_thread()]
    alert = world.fake.messages[int(alert["id"])]
    asked = await world.press(INES, alert, f"case:{case}:severity")
    assert asked.modal is not None
    done = await world.submit(INES, asked, severity="S2")
    assert done.text() == f"{case} severity is now S2."
