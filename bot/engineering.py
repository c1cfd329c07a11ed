"""Engineering issues (ENG-n): defects and enhancements linked to many cases, ranked
by their impact on the customer base."""

from __future__ import annotations

from sqlalchemy import select

from bot import templates as t
from bot import tracker
from bot.actors import SYSTEM, Actor
from bot.cases import first_response, propose_resolution
from bot.cases.chase import stop_chase
from bot.errors import Refusal
from bot.keys import normalize_key
from bot.lifecycle import ACTIVE, Act, State, next_state
from bot.messages import Target
from bot.policy import Deed
from bot.terms import DONE_ENG_STATUSES, ENG_STATUSES, OPEN_ENG_STATUSES, EngStatus
from bot.work import Work
from storage.keys import next_key
from storage.models import Case, EngFollower, EngIssue, EngLink

# The statuses in which an engineering issue hands its waiting cases back.
FIXED = (EngStatus.FIXED.value, EngStatus.RELEASED.value)


async def eng_issue_for(w: Work, eng_key: str) -> EngIssue:
    """The engineering issue by key (``ENG-3``, ``eng-3`` or ``3``), locked for update."""
    key = normalize_key(eng_key, "ENG")
    issue = (
        await w.session.scalars(select(EngIssue).where(EngIssue.key == key).with_for_update())
    ).one_or_none()
    if issue is None:
        raise Refusal(f"There is no engineering issue {key}.")
    return issue


async def priority(w: Work, issue: EngIssue) -> tuple[int, int, int]:
    """Impact on the customer base: for each distinct account with an open linked case,
    its worst severity's weight times its tier's weight, summed. Returns
    (score, accounts, cases)."""
    cases = (
        await w.session.scalars(
            select(Case).join(EngLink, EngLink.case_id == Case.id).where(EngLink.eng_id == issue.id)
        )
    ).all()
    sev_w: dict[str, int] = {str(k): v for k, v in w.config.priority.severity_weight.items()}
    tier_w = w.config.priority.tier_weight
    worst: dict[str, int] = {}
    live = [c for c in cases if c.state in ACTIVE]
    for c in live:
        worst[c.account_key] = max(worst.get(c.account_key, 0), sev_w.get(c.severity, 1))
    score = 0
    for account_key, weight in worst.items():
        account = w.config.account(account_key)
        score += weight * tier_w.get(account.tier if account else "", 1)
    return score, len(worst), len(live)


async def _reprioritise(w: Work, issue: EngIssue, why: str) -> str:
    old = issue.priority_score
    score, accounts, cases = await priority(w, issue)
    issue.priority_score = score
    issue.updated_at = w.now
    line = f"priority {old} → {score} ({accounts} accounts, {cases} open cases)"
    if score != old:
        team = w.config.engineering_team()
        if team:
            msg = t.eng_update(
                issue,
                f"{issue.key} {why}: {line}",
                issue.title,
                Target.team(team.key),
                follow=False,
            )
            msg.platform = issue.platform
            w.notify(msg)
    await tracker.impact_changed(w, issue)
    return line


async def log_issue(w: Work, actor: Actor, key: str, kind: str, title: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.LOG_ENG, case)
    title = " ".join(title.split())
    if not title:
        raise Refusal(f"Give the {kind} a title: `/case {kind} {case.key} <title>`.")
    to = next_state(case.key, case.state, Act.LOG_ENG)
    issue = EngIssue(
        key=await next_key(w.session, "ENG"),
        kind=kind,
        title=title,
        status=EngStatus.OPEN.value,
        area=case.area,
        created_by=actor.id,
        created_at=w.now,
        updated_at=w.now,
        priority_score=0,
        platform=case.platform,
    )
    w.session.add(issue)
    await w.session.flush()
    await _link(w, actor, case, issue, to)
    line = await _reprioritise(w, issue, "logged")
    await tracker.issue_logged(w, issue, await priority(w, issue))
    return f"Logged {kind} {issue.key} for {case.key}; {line}."


async def link(w: Work, actor: Actor, key: str, eng_key: str) -> str:
    """Link to ``ENG-n``, or to a tracker issue by URL / ``owner/repo#123`` / ``KEY-123``
    (its ENG issue, made on first sight)."""
    case = await w.case(key)
    w.require(actor, Deed.LINK, case)
    if _is_eng_key(eng_key):
        issue = await eng_issue_for(w, eng_key)
    else:
        issue = await tracker.adopt(w, eng_key, actor.id, case.platform)
    if issue.status in DONE_ENG_STATUSES:
        raise Refusal(f"{issue.key} is {issue.status}; link only open engineering issues.")
    exists = (
        await w.session.scalars(
            select(EngLink).where(EngLink.eng_id == issue.id, EngLink.case_id == case.id)
        )
    ).first()
    if exists:
        raise Refusal(f"{case.key} is already linked to {issue.key}.")
    to = next_state(case.key, case.state, Act.LINK_ENG)
    await _link(w, actor, case, issue, to)
    line = await _reprioritise(w, issue, f"linked to {case.key}")
    return f"Linked {case.key} to {issue.key}; {line}."


def _is_eng_key(text: str) -> bool:
    try:
        normalize_key(text, "ENG")
    except Refusal:
        return False
    return True


async def _link(w: Work, actor: Actor, case: Case, issue: EngIssue, to: State) -> None:
    w.session.add(EngLink(eng_id=issue.id, case_id=case.id, linked_at=w.now))
    await w.session.flush()
    w.move(case, actor, to, "linked_eng", f"{issue.key}: {issue.title}")
    first_response(w, case)
    w.notify(
        t.eng_update(
            issue,
            f"{case.key} is waiting on engineering: {issue.key}",
            f"We logged this as {issue.kind} {issue.key} ({issue.title}) with "
            "our engineers. Follow it to hear about every change.",
            Target.case_customer(case.key),
            case.key,
        ),
        case,
    )
    w.notify(
        t.case_status(
            w.config,
            case,
            await w.person_name(case.assignee_id),
            f"Waiting on engineering: {issue.key}.",
        ),
        case,
    )


async def set_status(w: Work, actor: Actor, eng_key: str, status: str, note: str) -> str:
    w.require(actor, Deed.ENG)
    issue = await eng_issue_for(w, eng_key)
    status = status.lower().replace("-", "_")
    if status not in ENG_STATUSES:
        raise Refusal(f"'{status}' is not a status (use {', '.join(ENG_STATUSES)}).")
    if status == issue.status:
        raise Refusal(f"{issue.key} is already {status}.")
    old = issue.status
    issue.status = status
    issue.updated_at = w.now
    note = note.strip()
    text = f"{issue.key} {old} → {status}" + (f": {note}" if note else "")
    cases = (
        await w.session.scalars(
            select(Case)
            .join(EngLink, EngLink.case_id == Case.id)
            .where(EngLink.eng_id == issue.id)
            .with_for_update()
        )
    ).all()
    moved = 0
    for case in cases:
        if case.state not in ACTIVE:
            continue
        w.event(case, actor, "eng_status", text)
        w.notify(
            t.eng_update(
                issue,
                f"Update on {issue.key} (linked to {case.key})",
                f"{issue.title}\n{text}",
                Target.case_customer(case.key),
                case.key,
            ),
            case,
        )
        if case.state == State.SOLUTION_PROPOSED and old in FIXED and status in OPEN_ENG_STATUSES:
            if (case.proposed_resolution or "").startswith(
                tuple(_fix_resolution(issue, s) for s in FIXED)
            ):
                await _reopened(w, case, issue)
                moved += 1
            continue
        if case.state != State.WAITING_ON_ENGINEERING:
            continue
        if status in FIXED:
            resolution = _fix_resolution(issue, status) + (f": {note}" if note else ".")
            await propose_resolution(w, case, SYSTEM, resolution, Act.ENG_FIXED)
            moved += 1
        elif status == EngStatus.WONT_FIX:
            w.move(
                case,
                SYSTEM,
                next_state(case.key, case.state, Act.ENG_WONT_FIX),
                "eng_wont_fix",
                note,
            )
            if case.assignee_id:
                w.notify(
                    t.to_person(
                        case.assignee_id,
                        case,
                        f"{issue.key} won't be fixed: {case.key} is back with you",
                        note,
                        ping=True,
                    ),
                    case,
                )
            moved += 1
    followers = (
        await w.session.scalars(select(EngFollower).where(EngFollower.eng_id == issue.id))
    ).all()
    for f in followers:
        msg = t.eng_update(
            issue,
            f"{issue.key} is now {status}",
            f"{issue.title}\n{note}".strip(),
            Target.person(f.person_id),
            follow=False,
        )
        msg.platform = f.platform
        w.notify(msg)
    team = w.config.engineering_team()
    if team:
        msg = t.eng_update(issue, text, issue.title, Target.team(team.key), follow=False)
        msg.platform = issue.platform
        w.notify(msg)
    await _reprioritise(w, issue, f"now {status}")
    extra = f"; {moved} linked cases moved on" if moved else ""
    return f"{issue.key} is {status}{extra}."


def _fix_resolution(issue: EngIssue, status: str) -> str:
    """How a fix is put to the customer (``ENG-3 is fixed``); a reopened issue takes
    back only the proposals that start so."""
    return f"{issue.key} is {status}"


async def _reopened(w: Work, case: Case, issue: EngIssue) -> None:
    """The fix did not hold: the proposal it made is withdrawn and the case waits on
    engineering again."""
    await stop_chase(w, case)
    case.proposed_resolution = None
    w.move(
        case,
        SYSTEM,
        next_state(case.key, case.state, Act.ENG_REOPENED),
        "eng_reopened",
        f"{issue.key} reopened",
    )
    w.notify(
        t.case_status(
            w.config,
            case,
            await w.person_name(case.assignee_id),
            f"{issue.key} was reopened: waiting on engineering again, nothing to confirm yet.",
        ),
        case,
    )


async def follow(w: Work, actor: Actor, eng_key: str, on: bool) -> str:
    w.require(actor, Deed.FOLLOW)
    issue = await eng_issue_for(w, eng_key)
    if actor.is_customer and not await _account_linked(w, actor, issue):
        raise Refusal(f"There is no engineering issue {issue.key}.")  # as if it did not exist
    row = (
        await w.session.scalars(
            select(EngFollower).where(
                EngFollower.eng_id == issue.id, EngFollower.person_id == actor.id
            )
        )
    ).first()
    if on:
        if row:
            raise Refusal(f"You already follow {issue.key}.")
        w.session.add(EngFollower(eng_id=issue.id, person_id=actor.id, platform=actor.platform))
        return f"You'll hear about every change to {issue.key}."
    if not row:
        raise Refusal(f"You don't follow {issue.key}.")
    await w.session.delete(row)
    return f"You no longer follow {issue.key}."


async def _account_linked(w: Work, actor: Actor, issue: EngIssue) -> bool:
    hit = (
        await w.session.scalars(
            select(Case.id)
            .join(EngLink, EngLink.case_id == Case.id)
            .where(EngLink.eng_id == issue.id, Case.account_key == actor.account_key)
        )
    ).first()
    return hit is not None


async def backlog(w: Work, actor: Actor) -> str:
    w.require(actor, Deed.ENG)
    issues = (
        await w.session.scalars(
            select(EngIssue).where(EngIssue.status.in_(OPEN_ENG_STATUSES)).order_by(EngIssue.id)
        )
    ).all()
    if not issues:
        return "The engineering backlog is empty."
    # Ranked by the impact as it is now: the stored score goes stale when linked cases
    # close or change severity.
    ranked = sorted(
        [(await priority(w, issue), issue) for issue in issues], key=lambda pair: -pair[0][0]
    )
    lines = ["Engineering backlog, by impact on the customer base:"]
    for i, ((score, accounts, cases), issue) in enumerate(ranked, 1):
        lines.append(
            f"{i}. {issue.key} [{issue.kind}, {issue.status}] priority {score} "
            f"({accounts} accounts, {cases} cases) — {issue.title}"
        )
    return "\n".join(lines)


async def show(w: Work, actor: Actor, eng_key: str) -> str:
    w.require(actor, Deed.SHOW)
    issue = await eng_issue_for(w, eng_key)
    if actor.is_customer and not await _account_linked(w, actor, issue):
        raise Refusal(f"There is no engineering issue {issue.key}.")  # as if it did not exist
    score, accounts, n = await priority(w, issue)
    lines = [
        f"{issue.key} [{issue.kind}] {issue.title}",
        f"Status: {issue.status}",
        f"Priority: {score} ({accounts} accounts, {n} open cases)",
    ]
    if actor.is_staff and (remote := await tracker.link_of(w, issue)) is not None:
        lines.append(f"Tracker: {remote.ref} {remote.url}".rstrip())
    if actor.is_staff:
        cases = (
            await w.session.scalars(
                select(Case)
                .join(EngLink, EngLink.case_id == Case.id)
                .where(EngLink.eng_id == issue.id)
                .order_by(Case.id)
            )
        ).all()
        lines.append(
            "Linked cases: "
            + ", ".join(f"{c.key} ({c.account_key}, {c.severity}, {c.state})" for c in cases)
        )
    return "\n".join(lines)
