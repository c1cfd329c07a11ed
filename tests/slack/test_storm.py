"""A storm in Slack: the team channel shows one triage digest (posted once, edited with
``chat.update``) with a Claim button per case; a claim from it posts the case's card,
whose thread is the staff thread; the customer's confirmations are posted at once."""

from __future__ import annotations

from typing import Any

from tests.slack.conftest import CUSTOMER, ENGINEER, SHARED, TRIAGE, World


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        e["action_id"]
        for b in message.get("blocks", [])
        if b["type"] == "actions"
        for e in b["elements"]
    ]


async def test_a_burst_is_one_digest_and_a_claim_from_it_makes_the_card(world: World) -> None:
    fake = world.fake
    for i in range(8):
        await world.slack.command(CUSTOMER, f"open Export {i} is empty", channel=SHARED)
    await world.settle()

    confirmations = [m for m in fake.posts(SHARED, top=True) if " opened" in m["text"]]
    assert len(confirmations) == 8
    (digest,) = [m for m in fake.posts(TRIAGE, top=True) if "Triage digest" in m["text"]]
    assert "Triage digest: 8 new cases" in digest["text"]
    assert [f"case:CASE-{n}:claim" for n in range(1, 9)] == [
        b for b in buttons(digest) if b.endswith(":claim")
    ]
    cards = [m for m in fake.posts(TRIAGE, top=True) if m["text"].startswith("New case")]
    free = next(n for n in range(1, 9) if not any(f"CASE-{n} " in c["text"] for c in cards))

    await world.slack.click(ENGINEER, TRIAGE, digest, f"case:CASE-{free}:claim")
    await world.settle()

    (card,) = [
        m for m in fake.posts(TRIAGE, top=True) if m["text"].startswith(f"New case CASE-{free} ")
    ]
    assert "Claimed by" in card["text"]
    await world.slack.command(
        ENGINEER, f"note CASE-{free} starting with the export job", channel=TRIAGE
    )
    await world.settle()
    assert any(
        "starting with the export job" in m["text"] for m in fake.posts(TRIAGE, thread=card["ts"])
    )
