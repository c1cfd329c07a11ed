"""A storm in Discord: the team channel shows one triage digest with a Claim button per
case (within Discord's 5 rows of 5 buttons), edited in place as cases arrive; a claim
from it posts the case's card, whose thread is the staff thread."""

from __future__ import annotations

from tests.discord.conftest import APPS, INES, ROSA, World


async def test_a_burst_is_one_digest_and_a_claim_from_it_makes_the_card(world: World) -> None:
    opens = [
        world.fake.command_interaction(ROSA, APPS, "open", {"title": f"Sync job {i} stalls"})
        for i in range(12)
    ]
    logs = await world.send(*opens)
    assert all(" opened" in log.text() or "CASE-" in log.text() for log in logs)

    digests = [
        m
        for m in world.fake.bot_posts(APPS)
        if any((e.get("title") or "").startswith("Triage digest") for e in m.get("embeds", []))
    ]
    assert len(digests) == 1
    (digest,) = digests
    assert digest["embeds"][0]["title"] == "Triage digest: 12 new cases"
    claims = [b for b in world.buttons(digest) if b.endswith(":claim")]
    assert claims == [f"case:CASE-{n}:claim" for n in range(1, 13)]
    assert len(digest["components"]) <= 5

    cards = [t for t in world.titles(APPS) if t.startswith("New case")]
    free = next(n for n in range(1, 13) if not any(f"CASE-{n} " in t for t in cards))
    claimed = await world.press(INES, digest, f"case:CASE-{free}:claim")
    assert claimed.text() == f"CASE-{free} is yours."
    card = world.last_post_with(APPS, f"case:CASE-{free}:assign")
    assert card["embeds"][0]["title"].startswith(f"New case CASE-{free} ")
    await world.slash(INES, APPS, "note", case=f"CASE-{free}", text="Starting with the sync log.")
    staff = int(card["id"])
    assert any(e["title"] == "Note from Ines Duarte" for e in world.embeds(staff))
