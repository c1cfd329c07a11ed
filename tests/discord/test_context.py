"""Who and where, read from raw interaction payloads (as discord.py's own tests build
them): the thread's parent is the channel, the thread the thread, roles without
@everyone, and the interaction id as the event id."""

from __future__ import annotations

import discord

from adapters.discord.context import member_roles, where
from adapters.discord.interactions import Interactions
from bot.exchange import Context
from entrypoints.bootstrap import Casebot
from tests.discord.conftest import APPS, CUSTOMER_ROLE, GUILD, ROSA, TOMAS, build_server
from tests.discord.fake_discord import FakeDiscord


async def interaction_in(fake: FakeDiscord, user: int, channel: int) -> discord.Interaction:
    client = discord.Client(intents=discord.Intents.none())
    me = {**fake.users[fake.bot_id], "verified": True, "mfa_enabled": False, "flags": 0}
    client._connection.user = discord.ClientUser(state=client._connection, data=me)  # type: ignore[arg-type]
    payload = fake._interaction_payload(
        2, user, channel, {"id": "1", "name": "case", "type": 1, "options": []}
    )
    return discord.Interaction(data=payload, state=client._connection)  # type: ignore[arg-type]


async def test_an_interaction_in_a_case_thread(bot: Casebot) -> None:
    fake = FakeDiscord()
    build_server(fake, bot.config)
    thread = await fake._create_thread(str(APPS), body={"name": "CASE-1", "type": 12}, query={})
    interaction = await interaction_in(fake, TOMAS, int(thread["id"]))
    assert isinstance(interaction.channel, discord.Thread)
    ctx = await Interactions(bot.commands).context(interaction)
    assert ctx == Context(
        platform="discord",
        user_id=str(TOMAS),
        channel_id=str(APPS),
        thread_id=thread["id"],
        user_name="tomas",
        roles=(str(CUSTOMER_ROLE),),
        event_id=str(interaction.id),
        sectioned=True,  # Discord types /case eng defect
    )


async def test_an_interaction_in_a_channel_has_no_thread(bot: Casebot) -> None:
    fake = FakeDiscord()
    build_server(fake, bot.config)
    fake.add_member(GUILD, ROSA, (GUILD, CUSTOMER_ROLE))  # @everyone's id is the server's
    interaction = await interaction_in(fake, ROSA, APPS)
    assert where(interaction.channel, interaction.channel_id) == (str(APPS), None)
    assert member_roles(interaction.user) == (str(CUSTOMER_ROLE),)


async def test_in_a_dm_roles_come_from_the_lookup_for_unknown_people_only(bot: Casebot) -> None:
    fake = FakeDiscord()
    build_server(fake, bot.config)
    looked_up: list[int] = []

    async def lookup(user_id: int) -> tuple[str, ...]:
        looked_up.append(user_id)
        return (str(CUSTOMER_ROLE),)

    bridge = Interactions(bot.commands, roles_lookup=lookup)
    for user in (TOMAS, ROSA):
        dm = await fake._create_dm(body={"recipient_id": str(user)}, query={})
        interaction = await interaction_in(fake, user, int(dm["id"]))
        ctx = await bridge.context(interaction)
        assert ctx.channel_id == dm["id"] and ctx.thread_id is None
    assert looked_up == [TOMAS]  # rosa is configured: no lookup needed
