"""Service levels: first-response and resolution targets by severity (``sla`` in the
configuration), a warning to the case's team at ``warn_at`` of the target, and on a
breach an alert and an escalation to the support lead.

The clocks run from the moment the case was opened and stop while the case waits on the
customer (``bot.lifecycle.WAITING_ON_CUSTOMER``) or is resolved/closed: the stopped time
accumulates in ``Case.paused_seconds`` (``Case.sla_paused_at`` says since when it is
stopped now), and every due time is the target counted from the opening moment plus
the stopped time. The first-response target is met by ``Case.first_response_at``.

Nothing in the use cases has to remember any of this. :class:`ServiceLevels` observes
every unit of work (the bootstrap registers it): at the end of each it looks at the
cases the unit touched, and when what the SLA timers depend on (severity, targets,
first response, stopped or running — ``Case.sla_basis``) changed, the clock is stopped
or restarted and the timers are re-scheduled. The timer handlers
(:data:`TIMER_HANDLERS`) re-check all of it when they fire, and each warning or breach
is recorded once on the timeline, so a stale or repeated timer does nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from bot import templates as t
from bot.actors import SYSTEM
from bot.cases import escalate_to
from bot.config import Config
from bot.delivery.timers import Handler
from bot.durations import business_seconds
from bot.lifecycle import ACTIVE, WAITING_ON_CUSTOMER, State
from bot.messages import Kind, Message, Target
from bot.work import Work
from storage.models import Case, CaseEvent

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
TARGETS = (FIRST_RESPONSE, RESOLUTION)
LABELS = {FIRST_RESPONSE: "First response", RESOLUTION: "Resolution"}
WARN, BREACH = "sla_warn", "sla_breach"
WARNED, BREACHED = "sla_warning", "sla_breached"

# What ServiceLevels.finish() and the clocks read; a case loaded without them is refreshed first.
_NEEDS = (
    "state",
    "severity",
    "first_response_at",
    "created_at",
    "paused_seconds",
    "sla_paused_at",
    "sla_basis",
)


# -- the clocks ------------------------------------------------------------------------


def stopped(case: Case) -> bool:
    """The clocks stop while the customer owes us an answer, and once the case is done."""
    return case.state not in ACTIVE or case.state in WAITING_ON_CUSTOMER


def paused_for(case: Case, now: datetime) -> timedelta:
    total = timedelta(seconds=case.paused_seconds or 0)
    if case.sla_paused_at is not None and stopped(case):
        total += max(now - case.sla_paused_at, timedelta(0))
    return total


def targets(config: Config, case: Case) -> list[str]:
    """The targets still running for this case, first response first."""
    out = []
    if case.first_response_at is None and case.severity in config.sla.first_response:
        out.append(FIRST_RESPONSE)
    if case.severity in config.sla.resolution:
        out.append(RESOLUTION)
    return out


def window(config: Config, case: Case, target: str, now: datetime) -> tuple[datetime, datetime]:
    """(start, due) of ``target``: the start moved on by the time the clock stood still."""
    duration = getattr(config.sla, target)[case.severity]
    start = case.created_at + paused_for(case, now)
    return start, duration.after(start, config.support.tz)


def due_at(config: Config, case: Case, target: str, now: datetime) -> datetime:
    return window(config, case, target, now)[1]


def warn_at(config: Config, case: Case, target: str, now: datetime) -> datetime:
    start, due = window(config, case, target, now)
    return start + (due - start) * config.sla.warn_at


def basis(config: Config, case: Case) -> str:
    """Everything the scheduled SLA timers were computed from."""
    fr = config.sla.first_response.get(case.severity)  # type: ignore[call-overload]
    res = config.sla.resolution.get(case.severity)  # type: ignore[call-overload]
    return "|".join(
        (
            case.severity,
            str(fr or "-"),
            str(res or "-"),
            f"{config.sla.warn_at:g}",
            "F" if case.first_response_at else "f",
            "S" if stopped(case) else "R",
        )
    )[:64]


# -- how the reports measure a target's time -------------------------------------------


@dataclass(frozen=True)
class Clock:
    """How long a case took to reach a target (first response, resolution), as the
    reports count it: in business time (Monday–Friday in the support time zone, what
    ``bd`` counts) for the severities whose target is in business days, in elapsed time
    for the others. Waiting on the customer is not taken out: the figure is how long the
    customer waited for the answer."""

    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    business: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def in_business_time(self, target: str) -> tuple[str, ...]:
        """The severities whose ``target`` is measured in business time."""
        return tuple(sorted(self.business.get(target, ())))

    def seconds(
        self, target: str, severity: str, start: datetime, end: datetime | None
    ) -> int | None:
        """Whole seconds (floored) from ``start`` to ``end``; None until ``end``."""
        if end is None:
            return None
        if severity in self.business.get(target, ()):
            return business_seconds(start, end, self.tz)
        a, b = (x if x.tzinfo else x.replace(tzinfo=UTC) for x in (start, end))
        return int((b - a).total_seconds() // 1)


ELAPSED = Clock()  # every target in elapsed time: no configuration at hand (a migration)


def clock(config: Config) -> Clock:
    """The reports' clock for this configuration."""
    business = {
        name: frozenset(str(sev) for sev, d in getattr(config.sla, name).items() if d.unit == "bd")
        for name in TARGETS
    }
    return Clock(config.support.tz, {k: v for k, v in business.items() if v})


# -- following the cases a unit of work touched ----------------------------------------


TOUCHED = "casebot_sla_touched"
BORN = "casebot_sla_born"  # the cases this unit of work inserted (their Python ids)


def _note_written_cases(session: Session, _context: object, _instances: object) -> None:
    # The identity map holds clean objects weakly: a case written and flushed earlier
    # in the unit of work may be gone from it by the end, so keep them here.
    touched = session.info.get(TOUCHED)
    if touched is None:
        return
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Case):
            touched[id(obj)] = obj
    born = session.info.setdefault(BORN, set())
    born.update(id(obj) for obj in session.new if isinstance(obj, Case))


class ServiceLevels:
    """The unit-of-work observer that keeps the clocks and the SLA timers in step with
    the cases each unit of work changed."""

    def begin(self, w: Work) -> None:
        """Start noting the cases this unit of work writes (on its session only)."""
        w.session.info[TOUCHED] = {}
        w.session.info[BORN] = set()
        event.listen(w.session.sync_session, "before_flush", _note_written_cases)

    async def finish(self, w: Work) -> None:
        """Stop/restart the clocks and re-schedule the SLA timers of every case whose
        basis changed in this unit of work (before it commits)."""
        await w.session.flush()
        touched: dict[int, Case] = dict(w.session.info.get(TOUCHED) or {})
        for obj in list(w.session.identity_map.values()):
            if isinstance(obj, Case):
                touched.setdefault(id(obj), obj)
        stale = []
        for case in touched.values():
            state = inspect(case)
            if state.deleted or state.detached or state.was_deleted:
                continue
            if set(_NEEDS) & state.unloaded or basis(w.config, case) != case.sla_basis:
                stale.append(case)
        born: set[int] = w.session.info.get(BORN) or set()
        for case in sorted(stale, key=lambda c: c.id):
            # Under the row lock, from what is committed plus this unit's own changes; a
            # case this unit inserted is its own already, and nobody else can see it.
            if id(case) not in born or set(_NEEDS) & inspect(case).unloaded:
                await w.session.refresh(case, with_for_update=True)
            await _reschedule(w, case)


async def _reschedule(w: Work, case: Case) -> None:
    is_stopped = stopped(case)
    if is_stopped and case.sla_paused_at is None:
        case.sla_paused_at = w.now
    elif not is_stopped and case.sla_paused_at is not None:
        case.paused_seconds = (case.paused_seconds or 0) + max(
            int((w.now - case.sla_paused_at).total_seconds()), 0
        )
        case.sla_paused_at = None
    new = basis(w.config, case)
    if new == case.sla_basis:
        return
    if case.sla_basis:  # timers were scheduled from an earlier basis (never without one)
        await w.cancel_timers(case, WARN, BREACH)
    case.sla_basis = new
    if is_stopped:
        return
    for target in targets(w.config, case):
        due = due_at(w.config, case, target, w.now)
        warn = warn_at(w.config, case, target, w.now)
        if w.now < warn < due:
            w.schedule(WARN, warn, case, target=target, basis=new)
        w.schedule(BREACH, max(due, w.now), case, target=target, basis=new)


# -- the timers ------------------------------------------------------------------------


async def _recorded(w: Work, case: Case, kind: str, target: str) -> bool:
    found = await w.session.scalar(
        select(CaseEvent.id)
        .where(
            CaseEvent.case_id == case.id, CaseEvent.kind == kind, CaseEvent.text.like(f"{target}%")
        )
        .limit(1)
    )
    return found is not None


async def _check(w: Work, case: Case | None, p: dict, warning: bool) -> str | None:
    """The target this timer should act on now, or None (its guard no longer holds)."""
    if case is None or p.get("basis") != case.sla_basis or stopped(case):
        return None
    target = str(p.get("target"))
    if target not in targets(w.config, case):
        return None
    moment = (warn_at if warning else due_at)(w.config, case, target, w.now)
    if moment > w.now + timedelta(seconds=1):
        # Not yet (the timer ran early): come back when it is time.
        w.schedule(WARN if warning else BREACH, moment, case, **p)
        return None
    if await _recorded(w, case, WARNED if warning else BREACHED, target):
        return None
    return target


def _alert(w: Work, case: Case, title: str, text: str, assignee: str | None) -> Message:
    actions = []
    if case.assignee_id is None and case.state == State.TRIAGED:
        actions.append(t.act(case.key, "claim", "Claim"))
    target = (
        Target.team(case.team)
        if case.team
        else Target.person(w.config.leads()[0].id if w.config.leads() else case.opener_id)
    )
    return Message(
        kind=Kind.ALERT,
        target=target,
        title=title,
        text=text,
        fields=t.case_fields(w.config, case, assignee),
        actions=actions,
        case_key=case.key,
        mentions=[case.assignee_id] if case.assignee_id else [],
    )


async def _warn(w: Work, case: Case | None, p: dict) -> None:
    target = await _check(w, case, p, warning=True)
    if target is None or case is None:
        return
    left = due_at(w.config, case, target, w.now) - w.now
    if left <= timedelta(0):
        return  # fired late (no worker was running): the breach speaks for itself
    label = LABELS[target]
    w.event(case, SYSTEM, WARNED, f"{target}: due in {span(left)}", internal=True)
    assignee = await w.person_name(case.assignee_id) if case.assignee_id else None
    w.notify(
        _alert(
            w,
            case,
            f"{case.key} ({case.severity}): {label.lower()} due in {span(left)}",
            case.title,
            assignee,
        ),
        case,
    )


async def _breach(w: Work, case: Case | None, p: dict) -> None:
    target = await _check(w, case, p, warning=False)
    if target is None or case is None:
        return
    label = LABELS[target]
    goal = getattr(w.config.sla, target)[case.severity]
    w.event(case, SYSTEM, BREACHED, f"{target}: {goal} target ({case.severity})", internal=True)
    assignee = await w.person_name(case.assignee_id) if case.assignee_id else None
    w.notify(
        _alert(
            w,
            case,
            f"{case.key} ({case.severity}): {label.lower()} target of {goal} breached",
            case.title,
            assignee,
        ),
        case,
    )
    if case.escalation_level < 2:
        await escalate_to(
            w, case, SYSTEM, 2, f"{label.lower()} target of {goal} for {case.severity} breached"
        )


TIMER_HANDLERS: dict[str, Handler] = {WARN: _warn, BREACH: _breach}


# -- what people see ---------------------------------------------------------------------


def span(delta: timedelta | float) -> str:
    """``2d 3h``, ``1h 12m``, ``20m``; under a minute is ``<1m``."""
    seconds = int(abs(delta.total_seconds() if isinstance(delta, timedelta) else delta))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    return f"{minutes}m" if minutes else "<1m"


def time_left(config: Config, case: Case, now: datetime, short: bool = False) -> str | None:
    """The time left on the case's next target, for ``/case show`` (``short`` for the
    home view and the queue), or None without a running target."""
    if case.state not in ACTIVE:
        return None
    running = targets(config, case)
    if not running:
        return None
    target = running[0]
    left = due_at(config, case, target, now) - now
    label = LABELS[target]
    paused = stopped(case)
    if short:
        text = (
            f"{label.lower()} in {span(left)}"
            if left >= timedelta(0)
            else f"{label.lower()} breached {span(left)} ago"
        )
        return text + (" (paused)" if paused else "")
    text = (
        f"{label} due in {span(left)}"
        if left >= timedelta(0)
        else f"{label} target breached {span(left)} ago"
    )
    return text + (" (clock stopped while waiting on the customer)" if paused else "")
