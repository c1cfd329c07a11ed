"""Mail from senders no account knows, held for the lead (``email.unknown_senders:
queue``): the sender is told once that their mail waits; the lead sees it in
``/case queue`` and places it with ``/case accept-email M-n <account>`` (or drops it with
``/case decline-email M-n``), which makes the
sender a customer of that account and opens the case from the stored mail, in that
account and no other. Attachments kept with the mail move to the case.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update

from bot import cases, identity
from bot.actors import Actor, Role
from bot.cases.opening import NewCase
from bot.errors import Refusal
from bot.exchange import Context
from bot.identity import EMAIL
from bot.policy import Deed
from bot.units import Units
from bot.work import Work
from storage.mail import HeldMail, MailAttachment
from storage.models import PersonRow

HELD = (
    "Thank you for your mail. We could not match your address to a customer account "
    "yet, so it is waiting with our support team; we will write again as soon as it is "
    "placed. There is no need to send it again."
)
PREFIX = "M"
LIMIT = 50


def key_of(row: HeldMail) -> str:
    return f"{PREFIX}-{row.id}"


def _id_of(key: str) -> int:
    text = key.strip().upper().removeprefix(f"{PREFIX}-")
    if not text.isdigit():
        raise Refusal(f"'{key}' is not a held mail: write e.g. {PREFIX}-3 (see `/case queue`).")
    return int(text)


async def known(units: Units, sender: str) -> bool:
    """Whether casebot can place ``sender`` in an account (a person, a domain, a
    sender the lead placed before)."""
    async with units.work() as w:
        try:
            await identity.actor_for(w.session, w.config, Context(platform=EMAIL, user_id=sender))
        except Refusal:
            return False
        return True


async def hold(
    units: Units, mail_key: str, sender: str, sender_name: str, subject: str, text: str
) -> bool:
    """Keep the mail for the lead; False when it was held before (the same mail)."""
    async with units.work() as w:
        found = await w.session.scalars(select(HeldMail).where(HeldMail.mail_key == mail_key))
        if found.first() is not None:
            return False
        w.session.add(
            HeldMail(
                mail_key=mail_key,
                sender=sender,
                sender_name=sender_name[:200],
                subject=subject[:500],
                text=text,
                state="held",
                created_at=w.now,
            )
        )
        return True


async def queue_lines(w: Work, a: Actor) -> list[str]:
    """The lead's section of ``/case queue`` (nothing for anyone else, or when empty)."""
    if not a.is_lead:
        return []
    rows = (
        await w.session.scalars(
            select(HeldMail).where(HeldMail.state == "held").order_by(HeldMail.id).limit(LIMIT)
        )
    ).all()
    if not rows:
        return []
    lines = [f"Mail waiting for an account ({len(rows)}):"]
    lines.extend(f"  {key_of(r)} from {r.sender}: {r.subject or '(no subject)'}" for r in rows)
    lines.append(
        "  Place one with `/case accept-email M-n <account>`, "
        "or drop one with `/case decline-email M-n`."
    )
    return lines


async def accept(w: Work, a: Actor, key: str, account_key: str) -> str:
    """The lead places held mail ``key`` in ``account_key``: the sender joins the
    account and the case opens there, from the mail as it came."""
    w.require(a, Deed.ACCEPT_MAIL)
    stmt = select(HeldMail).where(HeldMail.id == _id_of(key)).with_for_update()
    row = (await w.session.scalars(stmt)).one_or_none()
    if row is None:
        raise Refusal(f"There is no held mail {key.strip().upper()}.")
    if row.state != "held":
        raise Refusal(f"{key_of(row)} was placed already: it opened {row.case_key}.")
    account = w.config.account(account_key.strip().lower()) or w.config.account(account_key)
    if account is None:
        keys = ", ".join(x.key for x in w.config.accounts)
        raise Refusal(f"There is no account '{account_key}'. The accounts: {keys}.")
    pid = identity.person_id(EMAIL, row.sender)
    person = await w.session.get(PersonRow, pid)
    if person is not None and person.account_key not in (None, account.key):
        raise Refusal(f"{row.sender} is a customer of another account already.")
    if person is None:
        person = PersonRow(
            id=pid,
            name=row.sender_name or row.sender,
            role=Role.CUSTOMER.value,
            account_key=account.key,
            configured=False,
            identities={EMAIL: row.sender},
        )
        w.session.add(person)
    person.account_key = account.key
    customer = Actor(pid, person.name, Role.CUSTOMER, account.key, EMAIL)
    case = await cases.open_case(
        w, customer, NewCase(title=row.subject or "(no subject)", description=row.text)
    )
    row.state, row.account_key, row.case_key = "accepted", account.key, case.key
    await w.session.execute(
        update(MailAttachment)
        .where(MailAttachment.mail_key == row.mail_key, MailAttachment.case_key.is_(None))
        .values(case_key=case.key)
    )
    return (
        f"Opened {case.key} in {account.name} from {key_of(row)}; "
        f"{row.sender} now writes as a customer of {account.name}."
    )


async def decline(w: Work, a: Actor, key: str) -> str:
    """The lead drops held mail ``key`` (spam, a wrong address): no case, nothing more
    to its sender (they were answered once when it was held), its attachments gone."""
    w.require(a, Deed.ACCEPT_MAIL)
    stmt = select(HeldMail).where(HeldMail.id == _id_of(key)).with_for_update()
    row = (await w.session.scalars(stmt)).one_or_none()
    if row is None:
        raise Refusal(f"There is no held mail {key.strip().upper()}.")
    if row.state == "accepted":
        raise Refusal(f"{key_of(row)} was placed already: it opened {row.case_key}.")
    if row.state == "declined":
        raise Refusal(f"{key_of(row)} was dropped already.")
    row.state = "declined"
    await w.session.execute(
        delete(MailAttachment).where(
            MailAttachment.mail_key == row.mail_key, MailAttachment.case_key.is_(None)
        )
    )
    return f"Dropped {key_of(row)} from {row.sender}: no case was opened, and nothing more is sent."
