"""One use case's unit of work: the transaction, the clock reading, and the helpers
every use case needs (timeline, outbox, timers), so that a state change, its timeline
entry, the notifications it causes and the timers it starts commit together."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.errors import Refusal
from bot.messages import Message, TargetKind
from storage.models import Case, CaseEvent, OutboxRow, PersonRow, Timer


@dataclass
class Actor:
    """Who is acting: a configured person, a customer recognised by their account's
    channel or role, or the system itself (timers)."""

    id: str
    name: str
    role: str  # customer | engineer | csm | lead | system
    account_key: str | None = None
    platform: str = "console"

    @property
    def is_customer(self) -> bool:
        return self.role == "customer"

    @property
    def is_engineer(self) -> bool:
        """Engineers and leads do engineers' work (the lead can do everything)."""
        return self.role in ("engineer", "lead")

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"

    @property
    def is_staff(self) -> bool:
        return self.role in ("engineer", "csm", "lead")


SYSTEM = Actor(id="casebot", name="casebot", role="system")


@dataclass
class Work:
    session: AsyncSession
    config: Config
    now: datetime
    platforms: tuple[str, ...] = ("console",)
    messages: list[Message] = field(default_factory=list)
    woke: bool = False

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
        """Queue a message in the outbox (committed with the change that caused it)."""
        message.platform = self._platform_for(message, case)
        self.messages.append(message)

    def notify_all(self, messages: Iterable[Message], case: Case | None = None) -> None:
        for m in messages:
            self.notify(m, case)

    def _platform_for(self, message: Message, case: Case | None) -> str:
        """Case messages go out where the case lives; a person or team that is not on
        that platform is reached on the first running platform where they are."""
        preferred = case.platform if case is not None else message.platform
        if preferred == "console" or message.target.kind in (
            TargetKind.CASE_CUSTOMER,
            TargetKind.CASE_STAFF,
        ):
            return preferred
        if message.target.kind == TargetKind.PERSON:
            person = self.config.person(message.target.id)
            if person is None:  # an unconfigured customer: "slack:U123"
                return message.target.id.split(":", 1)[0] if ":" in message.target.id else preferred
            reachable = set(person.identities)
        else:
            team = self.config.team(message.target.id)
            reachable = set(team.channels) if team else set()
        if preferred in reachable:
            return preferred
        for platform in self.platforms:
            if platform in reachable:
                return platform
        return preferred

    async def flush_outbox(self) -> None:
        for m in self.messages:
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
            return "nobody"
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


def normalize_key(text: str, prefix: str) -> str:
    """``case-3``, ``CASE-3``, ``#3`` or ``3`` → ``CASE-3``; anything else is refused."""
    t = text.strip().upper().lstrip("#")
    if t.isdigit():
        return f"{prefix}-{int(t)}"
    if t.startswith(prefix + "-") and t[len(prefix) + 1 :].isdigit():
        return f"{prefix}-{int(t[len(prefix) + 1 :])}"
    raise Refusal(f"'{text}' is not a {prefix} key (they look like {prefix}-12).")
