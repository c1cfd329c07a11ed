"""Two-way sync with the team's tracker: delivering queued tracker calls (the outbox's
``tracker`` outlet), applying what the tracker says (webhooks, reconciliation) through
the same use case as ``/case eng status``, and the two durable timers — the throttled
impact labels and the periodic reconciliation that catches up lost webhooks."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

import structlog
from sqlalchemy import select

from bot import engineering
from bot import templates as t
from bot.actors import SYSTEM
from bot.delivery.timers import Handler
from bot.eng_issues import linked_cases
from bot.errors import Duplicate, Refusal
from bot.messages import Message, Target
from bot.ports import DeliveryContext, PlatformRef
from bot.terms import EngStatus
from bot.tracker import (
    IMPACT_TIMER,
    PLATFORM,
    RECONCILE_TIMER,
    EngineeringTracker,
    RemoteIssue,
    TrackerCall,
    impact_changed,
    impact_of,
    link_by_ref,
    link_of,
    queue,
    remember,
)
from bot.units import Units
from bot.work import Work
from storage.models import Case, EngIssue, Timer
from storage.trackers import TrackerLink

log = structlog.get_logger(__name__)

# Statuses after which the tracker is no longer read (a won't-fix or a release is final).
_FINAL = (EngStatus.RELEASED.value, EngStatus.WONT_FIX.value)


class TrackerSync:
    """The outbox outlet for tracker calls, and the door webhooks come in by."""

    name = PLATFORM

    def __init__(self, units: Units, tracker: EngineeringTracker) -> None:
        self.units = units
        self.tracker = tracker

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None:
        call = TrackerCall.from_message(message)
        if call.op == "create":
            return await self._create(call)
        if call.op == "fetch":
            remote = await self.tracker.get(call.ref)
            async with self.units.work() as w:
                await apply_remote(w, remote)
            return PlatformRef(PLATFORM, remote.ref)
        if call.op == "impact":
            await self.tracker.set_impact(call.ref, call.impact_value(), tuple(call.previous))
            return PlatformRef(PLATFORM, call.ref)
        log.warning("tracker.unknown_call", op=call.op, eng=call.eng_key)
        return None

    async def _create(self, call: TrackerCall) -> PlatformRef | None:
        async with self.units.db.read() as s:
            known = (
                await s.scalars(
                    select(TrackerLink.ref)
                    .join(EngIssue, EngIssue.id == TrackerLink.eng_id)
                    .where(EngIssue.key == call.eng_key)
                )
            ).first()
        if known is not None:  # an earlier attempt created it and recorded it
            return PlatformRef(PLATFORM, known)
        remote = await self.tracker.create(call.title, call.body, call.impact_value(), call.kind)
        async with self.units.work() as w:
            await created(w, call.eng_key, remote, " ".join(call.impact_value().labels))
        return PlatformRef(PLATFORM, remote.ref)

    async def receive(self, event_id: str, remote: RemoteIssue) -> str:
        """A webhook's news about ``remote``; a second delivery of ``event_id`` does
        nothing. Returns what happened, for the log and the HTTP answer."""
        try:
            async with self.units.work(event_id) as w:
                return await apply_remote(w, remote)
        except Duplicate:
            return "duplicate"

    async def comment(self, event_id: str, ref: str, author: str, text: str) -> str:
        """A comment on a tracker issue, for the engineering team (never customers)."""
        try:
            async with self.units.work(event_id) as w:
                return await comment_posted(w, ref, author, text)
        except Duplicate:
            return "duplicate"

    async def close(self) -> None:
        await self.tracker.close()

    async def ensure_reconciler(self) -> None:
        """Start the reconciliation timer unless one is already pending."""
        async with self.units.work() as w:
            if w.config.tracker is not None and not await _reconcile_pending(w):
                w.schedule(RECONCILE_TIMER, _next_reconcile(w))


async def created(w: Work, eng_key: str, remote: RemoteIssue, labels: str) -> None:
    """The tracker issue for ``eng_key`` exists: remember it and show staff the link."""
    issue = await engineering.eng_issue_for(w, eng_key)
    if await link_of(w, issue) is not None:
        return
    link = remember(
        w.now,
        issue,
        w.config.tracker.kind if w.config.tracker else "",
        remote.ref,
        remote.url,
        remote.seen,
    )
    link.labels, link.labels_at = labels, w.now
    w.session.add(link)
    await w.session.flush()
    text = f"{issue.key} is tracked as {remote.ref}: {remote.url}"
    team = w.config.engineering_team()
    if team:
        msg = t.eng_update(issue, text, issue.title, Target.team(team.key), follow=False)
        msg.platform = issue.platform
        w.notify(msg)
    for case in await _linked(w, issue):
        w.notify(
            t.eng_update(
                issue, text, issue.title, Target.case_staff(case.key), case.key, follow=False
            ),
            case,
        )
    # Links made while the tracker was away are pushed by the throttled update.
    await impact_changed(w, issue)


async def apply_remote(w: Work, remote: RemoteIssue) -> str:
    """What the tracker says of an issue, applied as ``/case eng status`` would."""
    link = await link_by_ref(w, remote.ref)
    if link is None:
        log.info("tracker.unknown_issue", ref=remote.ref, state=remote.state)
        return "unknown issue"
    issue = await w.session.get(EngIssue, link.eng_id, with_for_update=True)
    assert issue is not None
    if remote.title and issue.title == link.ref:
        issue.title = remote.title[:300]  # linked by URL: the tracker's title
    link.url = remote.url or link.url
    if remote.seen == link.remote_state:
        return "no change"  # the tracker has not moved since we last looked
    link.remote_state = remote.seen
    link.updated_at = w.now
    status = _meaning(remote.status, issue.status)
    if status is None:
        return "no change"
    try:
        return await engineering.set_status(w, SYSTEM, issue.key, status, "")
    except Refusal as exc:  # the status is already what the tracker says
        return str(exc)


def _meaning(remote: str | None, current: str) -> str | None:
    """The status to move to, or None: an open tracker issue changes nothing while the
    ENG issue is open or in progress, and a closed one nothing once it is released."""
    if remote is None or remote == current:
        return None
    if remote == EngStatus.OPEN and current == EngStatus.IN_PROGRESS:
        return None
    if remote == EngStatus.FIXED and current == EngStatus.RELEASED:
        return None
    return remote


async def comment_posted(w: Work, ref: str, author: str, text: str) -> str:
    link = await link_by_ref(w, ref)
    team = w.config.engineering_team()
    if link is None or team is None or not (w.config.tracker and w.config.tracker.comments):
        return "ignored"
    issue = await w.session.get(EngIssue, link.eng_id)
    assert issue is not None
    title = f"{author} commented on {issue.key} ({ref})"
    msg = t.eng_update(issue, title, text[:2000], Target.team(team.key), follow=False)
    msg.platform = issue.platform
    w.notify(msg)
    return "posted"


async def _linked(w: Work, issue: EngIssue) -> list[Case]:
    return await linked_cases(w, issue)


# -- timers -------------------------------------------------------------------------------


async def push_impact(w: Work, case: Case | None, payload: dict) -> None:
    """The throttled label update: the impact as it is now, once, if it changed."""
    issue = await w.session.get(EngIssue, int(payload["eng_id"]), with_for_update=True)
    link = await link_of(w, issue) if issue is not None else None
    if issue is None or link is None:
        return
    link.labels_due = None
    impact = await impact_of(w, issue, await engineering.priority(w, issue))
    labels = " ".join(impact.labels)
    if labels == link.labels:
        return
    previous = link.labels.split()
    link.labels, link.labels_at = labels, w.now
    queue(
        w, TrackerCall("impact", issue.key, ref=link.ref, impact=asdict(impact), previous=previous)
    )


async def reconcile(w: Work, case: Case | None, payload: dict) -> None:
    """Read every linked issue that can still change, so a lost webhook only delays."""
    if w.config.tracker is None:
        return
    if not await _reconcile_pending(w):  # two workers starting at once made two: keep one
        w.schedule(RECONCILE_TIMER, _next_reconcile(w))
    rows = (
        await w.session.execute(
            select(EngIssue.key, TrackerLink.ref)
            .join(TrackerLink, TrackerLink.eng_id == EngIssue.id)
            .where(EngIssue.status.not_in(_FINAL))
            .order_by(EngIssue.id)
        )
    ).all()
    for key, ref in rows:
        queue(w, TrackerCall("fetch", key, ref=ref))


async def _reconcile_pending(w: Work) -> bool:
    pending = (
        await w.session.scalars(
            select(Timer.id).where(Timer.kind == RECONCILE_TIMER, Timer.state == "pending")
        )
    ).first()
    return pending is not None


def _next_reconcile(w: Work) -> datetime:
    assert w.config.tracker is not None
    return w.now + w.config.tracker.reconcile_every.approx()


TIMER_HANDLERS: dict[str, Handler] = {IMPACT_TIMER: push_impact, RECONCILE_TIMER: reconcile}
