"""Engineering issues (ENG-n): defects and enhancements linked to many cases, ranked
by their impact on the customer base."""

from __future__ import annotations

from sqlalchemy import select

from bot import templates as t
from bot import tracker
from bot.actors import SYSTEM, Actor
from bot.cases import first_response, propose_resolution
from bot.cases.chase import stop_chase
from bot.disclosure import eng_status_words, public_note
from bot.eng_issues import (
    customer_issue,
    eng_issue_for,
    followed_by_account,
    linked_cases,
    notice_ref,
)
from bot.errors import Refusal
from bot.keys import normalize_key
from bot.lifecycle import ACTIVE, WORKING, Act, State, next_state
from bot.messages import Target
from bot.policy import Deed
from bot.terms import DONE_ENG_STATUSES, ENG_STATUSES, OPEN_ENG_STATUSES, EngStatus
from bot.work import Work
from storage.keys import next_key
from storage.models import Case, EngFollower, EngIssue, EngLink

__all__ = ["eng_issue_for"]  # re-exported: the lookups live in bot.eng_issues

# The statuses in which an engineering issue hands its waiting cases back.
FIXED = (EngStatus.FIXED.value, EngStatus.RELEASED.value)


async def priority(w: Work, issue: EngIssue) -> tuple[int, int, int]:
    """Impact on the customer base: for each distinct account with an open linked case,
    its worst severity's weight times its tier's weight, summed. Returns
    (score, accounts, cases)."""
    cases = await linked_cases(w, issue)
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
    line = (
        f"priority {old} → {score} ({t.count(accounts, 'account')}, {t.count(cases, 'open case')})"
    )
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
        raise Refusal(
            f"{issue.key} is {issue.status}; link only open engineering issues. If the "
            f"problem is back, set it open again (`/case eng status {issue.key} open`) "
            "and link it, or log a new defect."
        )
    exists = (
        await w.session.scalars(
            select(EngLink).where(EngLink.eng_id == issue.id, EngLink.case_id == case.id)
        )
    ).first()
    if exists and case.state == State.WAITING_ON_ENGINEERING:
        raise Refusal(f"{case.key} is already linked to {issue.key} and waiting on it.")
    to = next_state(case.key, case.state, Act.LINK_ENG)
    # Linked before (then rejected, reopened, or back after won't fix): linking again
    # puts it back in the issue's automation, so the fix proposes to it.
    await _link(w, actor, case, issue, to, again=exists is not None)
    line = await _reprioritise(w, issue, f"linked to {case.key}")
    return f"Linked {case.key} to {issue.key}; {line}."


def _is_eng_key(text: str) -> bool:
    try:
        normalize_key(text, "ENG")
    except Refusal:
        return False
    return True


async def _link(
    w: Work, actor: Actor, case: Case, issue: EngIssue, to: State, again: bool = False
) -> None:
    if not again:
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
            follow=not await followed_by_account(w, issue, case.account_key),
            customer=True,
            ref=notice_ref(issue, case),
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


async def set_status(
    w: Work, actor: Actor, eng_key: str, status: str, note: str, public: bool = False
) -> str:
    """A new status; the note is for staff unless ``public`` (bot.disclosure): customers
    read the status in their words, and the note only when the engineer shares it."""
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
    shared = public_note(note, public)
    text = f"{issue.key} {old} → {status}" + (f": {note}" if note else "")
    words = eng_status_words(status)
    told = _fix_resolution(issue, status) + (f": {shared}" if shared else ".")
    # Every notice below is built after the change it reports, priority included.
    await _reprioritise(w, issue, f"now {status}")
    cases = await linked_cases(w, issue, lock=True)
    followers = (
        await w.session.scalars(select(EngFollower).where(EngFollower.eng_id == issue.id))
    ).all()
    following = {p.account for f in followers if (p := w.config.person(f.person_id)) and p.account}
    moved = 0
    told_accounts: set[str] = set()
    for case in cases:
        if case.state not in ACTIVE:
            continue
        told_accounts.add(case.account_key)
        w.event(case, actor, "eng_status", text, internal=True)
        w.event(case, actor, "eng_update", told)
        w.notify(
            t.eng_update(
                issue,
                f"Update on {issue.key} (linked to {case.key})",
                f"{issue.title}\n{told}",
                Target.case_customer(case.key),
                case.key,
                follow=case.account_key not in following,
                customer=True,
                ref=notice_ref(issue, case),
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
            if (
                status in FIXED
                and case.assignee_id
                and case.state in WORKING - {State.SOLUTION_PROPOSED}
            ):
                # Not waiting on the issue (taken back after a rejection or a reopen):
                # its engineer decides, and hears how to go on.
                w.notify(
                    t.to_person(
                        case.assignee_id,
                        case,
                        f"{issue.key} is {status}; {case.key} is not waiting on it",
                        f"If the fix solves {case.key}, propose it: "
                        f"`/case propose {case.key} <resolution>`.",
                        ping=True,
                    ),
                    case,
                )
            continue
        if status in FIXED:
            await propose_resolution(w, case, SYSTEM, told, Act.ENG_FIXED)
            moved += 1
        elif status == EngStatus.WONT_FIX:
            w.move(
                case,
                SYSTEM,
                next_state(case.key, case.state, Act.ENG_WONT_FIX),
                "eng_wont_fix",
                shared,
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
    for f in followers:
        person = w.config.person(f.person_id)
        customer = person is None or not person.is_staff
        if customer and person is not None and person.account in told_accounts:
            continue  # their case's thread carries this change: one notice, not two
        msg = t.eng_update(
            issue,
            f"{issue.key} is now {words if customer else status}",
            f"{issue.title}\n{shared if customer else note}".strip(),
            Target.person(f.person_id),
            follow=False,
            customer=customer,
        )
        msg.platform = f.platform
        w.notify(msg)
    team = w.config.engineering_team()
    if team:
        msg = t.eng_update(issue, text, issue.title, Target.team(team.key), follow=False)
        msg.platform = issue.platform
        w.notify(msg)
    extra = f"; {t.count(moved, 'linked case')} moved on" if moved else ""
    if not note:
        said = ""
    elif public:
        said = " Your note was shared with the customers."
    else:
        said = (
            " Your note is internal: customers were told only the new status "
            "(add --public to share a note)."
        )
    return f"{issue.key} is {status}{extra}.{said}"


def _fix_resolution(issue: EngIssue, status: str) -> str:
    """How a status is put to the customer (``ENG-3 is now fixed``); a reopened issue
    takes back only the proposals that start so."""
    return f"{issue.key} is now {eng_status_words(status)}"


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
            f"({t.count(accounts, 'account')}, {t.count(cases, 'case')}) — {issue.title}"
        )
    return "\n".join(lines)


async def show(w: Work, actor: Actor, eng_key: str) -> str:
    w.require(actor, Deed.SHOW)
    if actor.is_customer:
        issue = await customer_issue(w, actor, eng_key)
        return f"{issue.key} [{issue.kind}] {issue.title}\nStatus: {eng_status_words(issue.status)}"
    issue = await eng_issue_for(w, eng_key)
    score, accounts, n = await priority(w, issue)
    lines = [
        f"{issue.key} [{issue.kind}] {issue.title}",
        f"Status: {issue.status}",
        f"Priority: {score} ({t.count(accounts, 'account')}, {t.count(n, 'open case')})",
    ]
    if actor.is_staff and (remote := await tracker.link_of(w, issue)) is not None:
        lines.append(f"Tracker: {remote.ref} {remote.url}".rstrip())
    if actor.is_staff:
        cases = await linked_cases(w, issue)
        lines.append(
            "Linked cases: "
            + ", ".join(f"{c.key} ({c.account_key}, {c.severity}, {c.state})" for c in cases)
        )
    return "\n".join(lines)
