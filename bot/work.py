"""One use case's unit of work: the transaction, the clock reading, and the helpers
every use case needs (timeline, outbox, timers), so that a state change, its timeline
entry, the notifications it causes and the timers it starts commit together."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import identity, policy
from bot.actions import deed_of
from bot.actors import STAFF, Actor, Role
from bot.config import Config
from bot.errors import Refusal
from bot.keys import normalize_key
from bot.lifecycle import NO_ENGINEER
from bot.messages import Kind, Message, TargetKind
from bot.policy import Deed, Subject
from bot.ports import Links
from storage.models import Case, CaseEvent, OutboxRow, PersonRow, Timer


@dataclass
class Work:
    """One unit of work (see :class:`bot.units.Units`, which makes them)."""

    session: AsyncSession
    config: Config
    now: datetime
    platforms: tuple[str, ...] = ("console",)
    # Where the request that started this unit was made (a channel id), if known.
    origin_channel: str | None = None
    messages: list[Message] = field(default_factory=list)
    woke: bool = False
    # What happened to which case in this unit, for the observers (``resolved``…).
    happened: list[tuple[str, Case]] = field(default_factory=list)
    # What the acting person is answered; stored with the event marker (see units).
    answer: str | None = None
    # Statements run last, just before the commit (see ``at_commit``).
    last: list[Callable[[], Awaitable[Any]]] = field(default_factory=list)

    def at_commit(self, run: Callable[[], Awaitable[Any]]) -> None:
        """Run ``run`` after everything else in this unit, just before it commits: for a
        write to a row every unit shares (the report day sums), whose row lock is then
        held only for the commit instead of the rest of the unit's statements, so that
        units on several workers do not take turns behind it."""
        self.last.append(run)

    def answered(self, text: str) -> None:
        """Record the answer with the effect, so a request handled again after a crash
        (the inbox) says the same words instead of "Already done."."""
        self.answer = text

    # Signed links to the web pages, when this process serves them.
    links: Links | None = None

    def tell(self, what: str, case: Case) -> None:
        """Say that ``what`` happened to ``case``: observers registered by the
        bootstrap (the knowledge base drafts an article on ``resolved``) act on it
        before the unit commits."""
        self.happened.append((what, case))

    # -- permissions -------------------------------------------------------------

    def subject(self, case: Case) -> Subject:
        """What the policy table needs to know of ``case``."""
        csm = self.config.csm_for(case.account_key)
        return Subject(case.key, case.account_key, case.assignee_id, csm.id if csm else None)

    def require(self, actor: Actor, deed: Deed, case: Case | None = None) -> None:
        """Refuse unless ``actor`` may do ``deed`` (to ``case``): the policy table."""
        policy.require(actor, deed, self.subject(case) if case is not None else None)

    # -- cases -------------------------------------------------------------------

    async def case(self, key: str, *, lock: bool = True) -> Case:
        """The case by key (``CASE-3``, ``case-3`` or ``3``), locked for update."""
        norm = normalize_key(key, "CASE")
        stmt = select(Case).where(Case.key == norm)
        if lock:
            stmt = stmt.with_for_update()
        case = (await self.session.scalars(stmt)).one_or_none()
        if case is None:
            raise Refusal(f"There is no case {norm}.")
        return case

    def event(
        self,
        case: Case,
        actor: Actor,
        kind: str,
        text: str = "",
        *,
        from_state: str | None = None,
        to_state: str | None = None,
        internal: bool = False,
    ) -> None:
        self.session.add(
            CaseEvent(
                case_id=case.id,
                at=self.now,
                actor_id=actor.id,
                kind=kind,
                from_state=from_state,
                to_state=to_state,
                text=text,
                internal=internal,
            )
        )
        case.updated_at = self.now

    def move(self, case: Case, actor: Actor, to_state: str, kind: str, text: str = "") -> None:
        """Change the state, stamp its timestamp and append the transition."""
        from_state = case.state
        case.state = to_state
        stamp = STATE_STAMPS.get(to_state)
        if stamp and (getattr(case, stamp) is None or stamp in RESTAMP):
            setattr(case, stamp, self.now)
        self.event(case, actor, kind, text, from_state=from_state, to_state=to_state)

    # -- notifications -----------------------------------------------------------

    def notify(self, message: Message, case: Case | None = None) -> None:
        """Queue a message in the outbox (committed with the change that caused it),
        with only the buttons its audience may press (the policy table decides)."""
        message.platform = self._platform_for(message, case)
        audience = self.audience(message)
        message.actions = [
            a
            for a in message.actions
            if (deed := deed_of(a.id)) is not None and policy.audience_may(audience, deed)
        ]
        self.messages.append(message)

    def audience(self, message: Message) -> frozenset[Role]:
        """The roles of the people who will see ``message``."""
        target = message.target
        if target.kind == TargetKind.CASE_CUSTOMER:
            return frozenset({Role.CUSTOMER})
        if target.kind == TargetKind.PERSON:
            person = self.config.person(target.id)
            return frozenset({Role(person.role) if person else Role.CUSTOMER})
        return STAFF

    def notify_all(self, messages: Iterable[Message], case: Case | None = None) -> None:
        for m in messages:
            self.notify(m, case)

    def _platform_for(self, message: Message, case: Case | None) -> str:
        """Case messages go out where the case lives; a person or team that is not on
        that platform is reached on the first running platform where they are."""
        preferred = case.platform if case is not None else message.platform
        kind = message.target.kind
        # A mail case's customer is written to by mail; its staff work in chat.
        by_mail = preferred in identity.MAIL_PLATFORMS
        if preferred == "console" or kind == TargetKind.CASE_CUSTOMER:
            return preferred
        if kind == TargetKind.CASE_STAFF and not by_mail:
            return preferred
        if kind == TargetKind.PERSON:
            person = self.config.person(message.target.id)
            if person is None:  # an unconfigured customer: "slack:U123"
                return identity.platform_of(message.target.id) or preferred
            reachable = set(person.identities)
            if by_mail and person.is_staff:
                reachable -= identity.MAIL_PLATFORMS
        else:
            team_key = case.team if kind == TargetKind.CASE_STAFF and case else message.target.id
            team = self.config.team(team_key or "")
            reachable = set(team.channels) if team else set()
        if preferred in reachable:
            return preferred
        for platform in self.platforms:
            if platform in reachable:
                return platform
        if by_mail:  # staff are never written to by mail; the console shows everyone's
            chat = [p for p in self.platforms if p not in identity.MAIL_PLATFORMS]
            return "console" if "console" in chat else (chat[0] if chat else preferred)
        return preferred

    async def flush_outbox(self) -> None:
        for m in coalesced(self.messages):
            self.session.add(
                OutboxRow(
                    platform=m.platform,
                    kind=str(m.kind),
                    case_key=m.case_key,
                    message=m.to_dict(),
                    state="pending",
                    next_attempt_at=self.now,
                    created_at=self.now,
                )
            )
        if self.messages:
            self.woke = True
        self.messages = []

    async def run_last(self) -> None:
        """Write everything pending, then what was asked to run last (``at_commit``)."""
        await self.session.flush()
        for run in self.last:
            await run()
        self.last = []

    # -- timers ------------------------------------------------------------------

    def schedule(self, kind: str, due: datetime, case: Case | None = None, **payload: Any) -> None:
        self.session.add(
            Timer(
                kind=kind,
                case_id=case.id if case is not None else None,
                due_at=due,
                payload=payload,
                state="pending",
                created_at=self.now,
            )
        )
        self.woke = True

    async def cancel_timers(self, case: Case, *kinds: str) -> None:
        await self.session.execute(
            update(Timer)
            .where(Timer.case_id == case.id, Timer.kind.in_(kinds), Timer.state == "pending")
            .values(state="cancelled")
        )

    # -- people ------------------------------------------------------------------

    async def person_name(self, person_id: str | None) -> str:
        if person_id is None:
            return NO_ENGINEER
        person = self.config.person(person_id)
        if person is not None:
            return person.name
        row = await self.session.get(PersonRow, person_id)
        return row.name if row else person_id


STATE_STAMPS = {
    "triaged": "triaged_at",
    "assigned": "assigned_at",
    "replicating": "replicating_at",
    "waiting_on_customer": "waiting_since",
    "solution_proposed": "solution_proposed_at",
    "resolved": "resolved_at",
    "closed": "closed_at",
}
# Stamps that record the latest entry rather than the first.
RESTAMP = {"waiting_since", "solution_proposed_at", "replicating_at"}


__all__ = ["Work", "normalize_key", "STATE_STAMPS", "RESTAMP"]


def coalesced(messages: list[Message]) -> list[Message]:
    """The messages of one transaction, with each edit of a team's card posted (or
    edited) earlier in the same transaction folded into that one: the card goes out
    once, as it is at commit, not as a post and an edit (an open that assigns at once
    would otherwise cost the team's channel a post and a ``chat.update``; in a storm,
    twice the calls). Mentions of both are kept. Only cards: a customer's messages are
    each worth reading where edits are not in place (mail, the console)."""
    out: list[Message] = []
    at: dict[tuple[str, str, str, str], int] = {}
    for m in messages:
        if m.ref is None or m.kind != Kind.TRIAGE_ALERT:
            out.append(m)
            continue
        key = (m.platform, m.ref, str(m.target.kind), m.target.id)
        if m.update and key in at:
            first = out[at[key]]
            out[at[key]] = replace(
                m, update=first.update, mentions=list(dict.fromkeys(first.mentions + m.mentions))
            )
            continue
        at[key] = len(out)
        out.append(m)
    return out
