"""On Discord: ``/case open`` takes an impact option (autocompleted from the
configuration) and ``/case eng status`` a ``public`` switch, both generated from the
command table and typed when they reach the core (issue #9)."""

from __future__ import annotations

from sqlalchemy import select

from storage.models import Case
from tests.discord.conftest import APPS, INES, ROSA, World
from tests.discord.test_tree import Recording, recorded  # noqa: F401  (the fixture)


async def test_open_takes_an_impact_and_eng_status_a_public_switch(
    recorded: tuple[World, Recording],  # noqa: F811
) -> None:
    world, core = recorded
    opened = await world.slash(ROSA, APPS, "open", title="Invoice export lags", impact="degraded")
    assert opened.text().startswith("Opened CASE-1: Invoice export lags. Severity S")
    assert ("open", {"title": "Invoice export lags", "impact": "degraded"}) in core.invoked
    async with world.bot.db.read() as s:
        case = (await s.scalars(select(Case).where(Case.key == "CASE-1"))).one()
    assert case.impact == "degraded"
    status = await world.slash(
        INES, APPS, "eng status", issue="ENG-1", status="fixed", note="In 4.2", public=True
    )
    assert (
        "eng status",
        {"issue": "ENG-1", "status": "fixed", "note": "In 4.2", "public": True},
    ) in core.invoked
    assert status.text() == "There is no engineering issue ENG-1."
    # The impact option is autocompleted from the configured impacts.
    choices = world.client.casebot.impact_choices("degr")
    assert [c.value for c in choices] == ["degraded"]
