"""Storms: when new cases reach a team channel faster than its pace allows, their triage
alerts fold into one *triage digest* message, posted once and edited in place.

The rule (:class:`StormRule`): more than ``threshold`` new-case alerts for one team on
one platform that arrived within ``window`` or are still queued is a storm. The dispatcher asks :meth:`Digests.fold`
before it paces a new-case alert; in a storm the alert is not posted: its row becomes
``folded`` (its ``platform_channel`` names the digest) and its case joins the team's
open digest page, an outbox row of its own (kind ``triage_digest``, no case) whose
message is rebuilt on every fold and delivered again: the first delivery posts it,
later ones edit it, at most one edit per ``edit_gap`` (edits have their own limits,
see :mod:`bot.delivery.pacing`). A page holds ``page`` cases (a Claim button each,
within Slack's 50 blocks and Discord's 25 buttons); the next case starts a new page,
as does the first case after a lull. Single alerts resume when the rate falls.

A lead's DM about a case just folded (a storm's "nobody can take" alerts, one per case)
folds too (:meth:`Digests.fold_lead_alert`): the digest mentions the leads instead, so
they are pinged once per page, not once per case.

A folded case still gets its card and staff thread, once, when it needs them
(:meth:`Digests.settle`): a new card for it (claimed, assigned, moved) is posted in
the folded alert's place; any other staff-side message first puts the folded alert
back in the queue, and waits for it under the outbox's ordering rule. A folded alert
does not hold back the case's other messages: the customer's never wait for the team.

Look-alikes (:func:`groups`): cases of one area whose words overlap (the stems the
knowledge search uses) share one digest line and one button that links them all to
an engineering issue.
"""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot import policy
from bot import templates as t
from bot.actions import action_id, deed_of
from bot.actors import STAFF
from bot.config import Config
from bot.messages import Kind, Message, TargetKind
from bot.ports import Clock, DeliveryContext
from storage.db import Database
from storage.models import Case, OutboxRow
from storage.search_text import stems_of

ALERT = str(Kind.TRIAGE_ALERT)
DIGEST = str(Kind.TRIAGE_DIGEST)
FOLDED = "folded"  # an alert shown in a digest instead of a message of its own
LOOK_ALIKE = 0.5  # share of the smaller case's words that the other shares
MAX_GROUP = 10  # keys per look-alike button (Discord's custom id holds 100 characters)
# Folds for one team channel take turns in a process, so concurrent deliveries add to
# one page instead of each starting its own; across workers on PostgreSQL, under a
# transaction-scoped advisory lock per platform and team.
_turns: defaultdict[tuple[int, str, str], asyncio.Lock] = defaultdict(asyncio.Lock)


def _turn(platform: str, team: str) -> asyncio.Lock:
    return _turns[(id(asyncio.get_running_loop()), platform, team)]


@dataclass
class StormRule:
    enabled: bool = True
    threshold: int = 3  # more new cases than this (Slack's burst) …
    window: timedelta = timedelta(seconds=10)  # … within this long make a storm
    page: int = 20  # cases per digest message
    edit_gap: timedelta = timedelta(seconds=1.5)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StormRule:
        """``CASEBOT_DIGEST`` (``off`` disables digests), ``CASEBOT_DIGEST_THRESHOLD``
        (3), ``CASEBOT_DIGEST_WINDOW`` (seconds, 10)."""
        env = os.environ if env is None else env
        rule = cls()
        rule.enabled = env.get("CASEBOT_DIGEST", "on").lower() not in ("off", "0", "no")
        if v := env.get("CASEBOT_DIGEST_THRESHOLD"):
            rule.threshold = int(v)
        if v := env.get("CASEBOT_DIGEST_WINDOW"):
            rule.window = timedelta(seconds=float(v))
        return rule


def foldable(message: Message, row: Mapping[str, Any]) -> bool:
    """A new case's first alert to its team (never a card update, never one let out of
    a digest again)."""
    return (
        message.kind == Kind.TRIAGE_ALERT
        and message.target.kind == TargetKind.TEAM
        and not message.update
        and message.case_key is not None
        and not row.get("unfolded")
    )


def prepare(row_kind: str, message: Message, ctx: DeliveryContext) -> None:
    """A digest posts the first time and edits itself afterwards."""
    if row_kind == DIGEST:
        message.update = ctx.previous is not None


@dataclass
class Digests:
    db: Database
    config: Config
    clock: Clock
    rule: StormRule

    async def fold(
        self, row_id: int, worker: str, message: Message, platform: str, row: Mapping[str, Any]
    ) -> bool:
        """Fold a claimed new-case alert (``row``: its stored message) into its team's
        digest when the team's channel is in a storm. True when folded."""
        if not self.rule.enabled or not foldable(message, row):
            return False
        team = message.target.id
        async with _turn(platform, team), self.db.transaction() as s:
            if not self.db.is_sqlite:
                # Across workers too: one page per team at a time (SQLite has one writer).
                key = f"casebot-digest:{platform}:{team}"
                await s.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})
            now = self.clock.now()
            if not await self._storm(s, platform, team, now):
                return False
            alert = await s.get(OutboxRow, row_id, with_for_update=True)
            case = (await s.scalars(select(Case).where(Case.key == message.case_key))).first()
            if alert is None or alert.state != "sending" or alert.worker != worker or not case:
                return False
            if (alert.platform_channel or "").startswith("digest:"):
                return False  # an assigned case's card, listed already and paced since
            page = await self._open_page(s, platform, team, now)
            data = page.message.get("digest") or {"team": team, "cases": []}
            data = {**data, "ref": f"digest:{team}:{page.id}", "last": now.isoformat()}
            data["cases"] = [*data["cases"], self._entry(case, message)]
            page.message = {**self._build(data, platform).to_dict(), "digest": data}
            if page.state not in ("pending", "sending"):
                page.state = "pending"
                page.next_attempt_at = max(now, (page.sent_at or now) + self.rule.edit_gap)
            if case.assignee_id is not None:
                # Assigned as it opened (its card says so, the open's post and edit are
                # one message): listed in the digest, and its card goes out too, since
                # its engineer works in its thread (the mark keeps it on one page).
                alert.platform_channel = data["ref"]
                return False
            alert.state, alert.worker, alert.lease_until = FOLDED, None, None
            alert.sent_at, alert.platform_channel = now, data["ref"]
            return True

    async def fold_lead_alert(
        self, row_id: int, worker: str, message: Message, platform: str
    ) -> bool:
        """Fold a claimed DM to a lead about a case whose triage alert was folded when
        they were queued together (the open's "nobody can take"). True when folded."""
        leads = {p.id for p in self.config.leads()}
        if not (
            self.rule.enabled
            and message.kind == Kind.ALERT
            and message.target.kind == TargetKind.PERSON
            and message.target.id in leads
            and message.case_key is not None
        ):
            return False
        async with self.db.transaction() as s:
            alert = await self._folded_alert(s, message.case_key, platform)
            dm = await s.get(OutboxRow, row_id, with_for_update=True)
            if alert is None or dm is None or dm.state != "sending" or dm.worker != worker:
                return False
            if abs(dm.created_at - alert.created_at) > self.rule.window:
                return False  # a later alert about the case (an SLA, an escalation): sent
            dm.state, dm.worker, dm.lease_until = FOLDED, None, None
            dm.sent_at, dm.platform_channel = self.clock.now(), alert.platform_channel
            return True

    async def _folded_alert(self, s: AsyncSession, key: str, platform: str) -> OutboxRow | None:
        return (
            await s.scalars(
                select(OutboxRow)
                .where(
                    OutboxRow.case_key == key,
                    OutboxRow.platform == platform,
                    OutboxRow.kind == ALERT,
                    OutboxRow.state == FOLDED,
                )
                .with_for_update()
            )
        ).first()

    async def settle(self, row_id: int, worker: str, message: Message, platform: str) -> bool:
        """Before a staff-side message of a case whose alert was folded: True when it may
        go on (a card for the case is posted in the alert's place), False when it went
        back to the queue behind the alert, which is queued again."""
        staff_side = message.target.kind == TargetKind.CASE_STAFF or (
            message.kind == Kind.TRIAGE_ALERT and message.target.kind == TargetKind.TEAM
        )
        if not staff_side or message.case_key is None:
            return True
        async with self.db.transaction() as s:
            alert = await self._folded_alert(s, message.case_key, platform)
            if alert is None:
                return True
            if message.kind == Kind.TRIAGE_ALERT and message.target == _target(alert):
                alert.state = "sent"  # this card replaces it: posted anew, with its thread
                message.update = False
                await self._mark_taken(s, alert, message.case_key)
                return True
            alert.state, alert.next_attempt_at = "pending", self.clock.now()
            alert.message = {**alert.message, "unfolded": True}
            row = await s.get(OutboxRow, row_id, with_for_update=True)
            if row is not None and row.state == "sending" and row.worker == worker:
                row.state, row.next_attempt_at = "pending", self.clock.now()
                row.worker, row.lease_until = None, None
            return False

    async def _mark_taken(self, s: AsyncSession, alert: OutboxRow, key: str) -> None:
        """A listed case now has an engineer: its digest line says who, without its Claim
        button. The page is edited again, coalesced like its folds (one row, rebuilt, at
        most one edit per ``edit_gap``)."""
        ref = alert.platform_channel or ""
        page_id = ref.rpartition(":")[2]
        page = (
            await s.get(OutboxRow, int(page_id), with_for_update=True)
            if page_id.isdigit()
            else None
        )
        case = (await s.scalars(select(Case).where(Case.key == key))).first()
        if page is None or page.kind != DIGEST or case is None or case.assignee_id is None:
            return
        person = self.config.person(case.assignee_id)
        data = dict(page.message["digest"])
        name = person.name if person else case.assignee_id
        data["cases"] = [{**e, "taken": name} if e["key"] == key else e for e in data["cases"]]
        page.message = {**self._build(data, page.platform).to_dict(), "digest": data}
        if page.state not in ("pending", "sending"):
            now = self.clock.now()
            page.state = "pending"
            page.next_attempt_at = max(now, (page.sent_at or now) + self.rule.edit_gap)

    async def _storm(self, s: AsyncSession, platform: str, team: str, now: datetime) -> bool:
        recent = (
            await s.scalars(
                select(OutboxRow.message).where(
                    OutboxRow.kind == ALERT,
                    OutboxRow.platform == platform,
                    # Arrived lately, or still queued: a backlog is a storm too.
                    or_(
                        OutboxRow.created_at > now - self.rule.window,
                        OutboxRow.state.in_(("pending", "sending")),
                    ),
                )
            )
        ).all()
        new = [
            m for m in recent if not m.get("update") and m["target"] == {"kind": "team", "id": team}
        ]
        return len(new) > self.rule.threshold

    async def _open_page(
        self, s: AsyncSession, platform: str, team: str, now: datetime
    ) -> OutboxRow:
        """The team's digest page still taking cases, locked; else a new one."""
        pages = (
            await s.scalars(
                select(OutboxRow)
                .where(
                    OutboxRow.kind == DIGEST,
                    OutboxRow.platform == platform,
                    OutboxRow.created_at > now - timedelta(hours=1),
                )
                .order_by(OutboxRow.id.desc())
                .with_for_update()
            )
        ).all()
        for page in pages:
            data = page.message.get("digest") or {}
            if data.get("team") != team:
                continue
            recent = datetime.fromisoformat(data["last"]) > now - self.rule.window
            if recent and len(data["cases"]) < self.rule.page:
                return page
            break
        page = OutboxRow(
            platform=platform,
            kind=DIGEST,
            case_key=None,
            message={},
            state="pending",
            next_attempt_at=now,
            created_at=now,
        )
        s.add(page)
        await s.flush()
        return page

    def _entry(self, case: Case, message: Message) -> dict[str, Any]:
        account = self.config.account(case.account_key)
        # The known engineering issue it looks like most (the card's search found it).
        known = [f.value for f in message.fields if f.label == "Known engineering issues"]
        return {
            "eng": known[0].split()[0] if known else None,
            "key": case.key,
            "what": f"[{case.severity}] {account.name if account else case.account_key}",
            "title": case.title,
            "area": case.area or "",
            "words": sorted(stems_of(f"{case.title} {case.description}")),
        }

    def _build(self, data: Mapping[str, Any], platform: str) -> Message:
        lines = []
        for group in groups([e for e in data["cases"] if not e.get("taken")]):
            keys, eng = [e["key"] for e in group], group[0].get("eng")
            lines.append((keys, group[0]["what"], group[0]["title"], eng, group_arg(eng, keys)))
        taken = [e for e in data["cases"] if e.get("taken")]
        lines += [([e["key"]], f"claimed by {e['taken']}", e["title"], None, "") for e in taken]
        message = t.triage_digest(data["team"], data["ref"], lines)
        gone = {action_id("case", e["key"], "claim") for e in taken}
        message.actions = [a for a in message.actions if a.id not in gone]
        message.platform = platform
        message.mentions = [p.id for p in self.config.leads()]  # once a page, not a case
        # Only the buttons the team's channel may press (as Work.notify does).
        message.actions = [
            a
            for a in message.actions
            if (deed := deed_of(a.id)) is not None and policy.audience_may(STAFF, deed)
        ]
        return message


def groups(entries: Sequence[Mapping[str, Any]]) -> list[list[Mapping[str, Any]]]:
    """Entries in order, look-alikes together under the first of them: the same area and
    at least ``LOOK_ALIKE`` of the smaller one's words in common."""
    out: list[list[Mapping[str, Any]]] = []
    for e in entries:
        for group in out:
            first = group[0]
            if len(group) < MAX_GROUP and look_alike(first, e):
                group.append(e)
                break
        else:
            out.append([e])
    return out


def look_alike(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if not a["area"] or a["area"] != b["area"]:
        return False
    wa, wb = set(a["words"]), set(b["words"])
    smaller = min(len(wa), len(wb))
    return smaller > 0 and len(wa & wb) / smaller >= LOOK_ALIKE


def group_arg(eng_key: str | None, keys: Sequence[str]) -> str:
    """The look-alikes' button argument: the known issue's number (or ``new``), then
    the numbers of the group's other cases (``7-12-13``; see :func:`read_group`)."""
    eng = eng_key.rpartition("-")[2] if eng_key else "new"
    return "-".join([eng, *(k.rpartition("-")[2] for k in keys[1:])])


def read_group(key: str, arg: str) -> tuple[str | None, list[str]] | None:
    """:func:`group_arg` read back: (ENG key or None for a new one, every case key)."""
    eng, *numbers = arg.split("-")
    if not numbers or not all(n.isdigit() for n in numbers) or not (eng == "new" or eng.isdigit()):
        return None
    return (None if eng == "new" else f"ENG-{eng}"), [key, *(f"CASE-{n}" for n in numbers)]


def _target(row: OutboxRow) -> Any:
    return Message.from_dict(row.message).target
