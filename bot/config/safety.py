"""Configurations that validate and would still break casebot's promises at run time:
no way to open a case, nobody to escalate to, a staff channel that is also a customer's,
internal notes where customers can read them. Errors refuse the file; warnings are
printed by ``casebot config check`` and at start-up."""

from __future__ import annotations

from bot.actors import Role
from bot.config.schema import Config


def safety_checks(config: Config) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    warnings: list[str] = []
    if not config.impacts:
        errors.append(
            "impacts: at least one business impact is needed (every case gets one; "
            "leave the key out for the defaults)"
        )
    if not any(p.role == Role.LEAD for p in config.people):
        errors.append(
            "people: no one has the role lead: escalations beyond a CSM, unacknowledged "
            "escalations and feedback would reach nobody"
        )
    team_channels = {
        (platform, str(channel)): team.key
        for team in config.teams
        for chans in (team.channels, team.staff_channels)
        for platform, channel in chans.items()
    }
    for i, account in enumerate(config.accounts):
        for platform, channel in account.channels.items():
            owner = team_channels.get((platform, str(channel)))
            if owner is not None:
                errors.append(
                    f"accounts[{i}] ({account.key}).channels.{platform}: '{channel}' is also "
                    f"team {owner}'s channel; everyone in it would count as {account.name}'s "
                    "customer. Give the account a channel of its own"
                )
    # Discord: a private case thread lives in the account's channel, else in the team
    # channel, whose members can then read every thread under it, staff threads too.
    on_discord = {
        p.account for p in config.people if p.role == Role.CUSTOMER and "discord" in p.identities
    }
    shared = [
        a.key
        for a in config.accounts
        if "discord" not in a.channels and (a.discord_role is not None or a.key in on_discord)
    ]
    if shared:
        for i, team in enumerate(config.teams):
            if "discord" in team.channels and "discord" not in team.staff_channels:
                warnings.append(
                    f"teams[{i}] ({team.key}).staff_channels.discord: not set, and customers "
                    f"of {', '.join(shared)} have no Discord channel of their own, so their "
                    "case threads open in the team channel, where they can also read its "
                    "staff threads and internal notes. Set a staff-only channel (see "
                    "docs/discord.md)"
                )
    return errors, warnings
