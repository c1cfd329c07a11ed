"""Platform users ↔ casebot people: one format, one parser.

A configured person has an id of their own (``alice``) and ``identities`` per platform
(``slack: U123``). A customer casebot meets on a platform before anyone configured them
(recognised by their account's channel or Discord role) gets the person id
``<platform>:<user id>`` — :func:`person_id` writes it, :func:`split` reads it, and
nothing else takes these ids apart.
"""

from __future__ import annotations

import re

from sqlalchemy.ext.asyncio import AsyncSession

from bot.actors import Actor, Role
from bot.config import Config
from bot.errors import Refusal
from bot.exchange import Context
from storage.models import PersonRow

UNKNOWN = (
    "Sorry, I don't know you yet. Ask your company's support contact "
    "to add you to casebot, then try again."
)
# The mail platform: a sender is a customer of the account whose ``email_domains`` has
# their domain; staff are never reached there while a chat platform reaches them.
EMAIL = "email"
MAIL_PLATFORMS = frozenset({EMAIL})
# A mention as the platforms write it in text: Slack <@U123> / <@U123|name>,
# Discord <@123> / <@!123>.
_MENTION = re.compile(r"^<@!?([A-Za-z0-9]+)(?:\|[^>]*)?>$")


def person_id(platform: str, user_id: str) -> str:
    """The person id of a platform user casebot was not configured with."""
    return f"{platform}:{user_id}"


def split(pid: str) -> tuple[str, str] | None:
    """``slack:U123`` → (``slack``, ``U123``); a configured id → None."""
    platform, sep, user = pid.partition(":")
    return (platform, user) if sep and platform and user else None


def platform_of(pid: str) -> str | None:
    parts = split(pid)
    return parts[0] if parts else None


def configured_user(config: Config, pid: str, platform: str) -> str | None:
    """The platform user id of a person, from the configuration or their person id."""
    if platform == "console":
        return pid
    person = config.person(pid)
    if person is not None:
        ident = person.identities.get(platform)
        return str(ident) if ident is not None else None
    parts = split(pid)
    return parts[1] if parts and parts[0] == platform else None


async def platform_user(
    session: AsyncSession, config: Config, pid: str | None, platform: str
) -> str | None:
    """The platform user id of any person (configured or met on a platform)."""
    if pid is None:
        return None
    found = configured_user(config, pid, platform)
    if found is not None or config.person(pid) is not None:
        return found
    row = await session.get(PersonRow, pid)
    if row is not None:
        ident = (row.identities or {}).get(platform)
        return str(ident) if ident is not None else None
    return None


async def actor_for(session: AsyncSession, config: Config, ctx: Context) -> Actor:
    """Who is acting: a configured person by their platform identity, else a customer
    recognised by the account's channel or Discord role (remembered as a person row on
    first contact), else a polite refusal."""
    person = config.person_by_identity(ctx.platform, ctx.user_id)
    if person is not None:
        return Actor(person.id, person.name, Role(person.role), person.account, ctx.platform)
    account = None
    if ctx.channel_id:
        account = config.account_for_channel(ctx.platform, ctx.channel_id)
    if account is None and ctx.roles:
        account = config.account_for_roles(ctx.roles)
    if account is None and ctx.platform == EMAIL:
        account = config.account_for_email(ctx.user_id)
    pid = person_id(ctx.platform, ctx.user_id)
    row = await session.get(PersonRow, pid)
    if account is None and row is not None and row.account_key:
        account = config.account(row.account_key)
    if account is None:
        raise Refusal(UNKNOWN)
    name = ctx.user_name or (row.name if row else ctx.user_id)
    if row is None:
        session.add(
            PersonRow(
                id=pid,
                name=name,
                role=Role.CUSTOMER.value,
                account_key=account.key,
                configured=False,
                identities={ctx.platform: ctx.user_id},
            )
        )
    return Actor(pid, name, Role.CUSTOMER, account.key, ctx.platform)


def resolve_person(config: Config, ref: str, platform: str | None = None) -> str:
    """A configured person by id, name, a platform identity or the platform's mention
    (``<@U123>``, ``<@!123>``, ``@alice``); refused when nobody matches."""
    r = ref.strip()
    m = _MENTION.match(r)
    if m:
        platforms = [platform] if platform else ["slack", "discord"]
        for p in platforms:
            person = config.person_by_identity(p, m.group(1))
            if person:
                return person.id
        raise Refusal(f"I don't know who {ref} is.")
    r = r.lstrip("@")
    if config.person(r):
        return r
    if platform:
        person = config.person_by_identity(platform, r)
        if person:
            return person.id
    for someone in config.people:
        names = [str(v) for v in someone.identities.values()]
        if someone.name.lower() == r.lower() or r in names:
            return someone.id
    raise Refusal(f"I don't know anyone called '{ref}'.")
