"""The neutral messages the core sends, one builder per notification.

Text here is plain; user-supplied parts are inserted as they are and escaped by
each adapter. Button ids carry their subject and action so they survive restarts.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.actions import action_id
from bot.config import Config
from bot.disclosure import Detail, eng_status_words, shown_to_customers
from bot.intake import IMPACT_HOW, IMPACT_STATES, impact_label
from bot.lifecycle import STATE_WORDS, State
from bot.messages import Action, Field, Kind, Message, Style, Target
from bot.timeline import timeline_text
from storage.models import Case, EngIssue

DigestLine = tuple[list[str], str, str, str | None, str]


def act(
    case_key: str,
    action: str,
    label: str,
    style: Style = Style.DEFAULT,
    arg: str | None = None,
) -> Action:
    """A button that does ``action`` (with ``arg``) to the case (see :mod:`bot.actions`)."""
    return Action(action_id("case", case_key, action, arg), label, style)


def escalate_button(case: Case) -> Action:
    return act(case.key, "escalate", "Escalate", Style.DANGER)


def case_fields(
    config: Config, case: Case, assignee_name: str | None = None, *, customer: bool = False
) -> list[Field]:
    """The case's fields; ``customer`` for what its customers see (bot.disclosure)."""
    account = config.account(case.account_key)
    area = config.area(case.area) if case.area else None
    tier = account is not None and (not customer or shown_to_customers(Detail.TIER))
    fields = [
        Field(
            "Account",
            f"{account.name if account else case.account_key}"
            + (f" ({account.tier})" if tier and account else ""),
        ),
        Field("Severity", case.severity),
        Field("Area", area.name if area else "not set"),
        Field("State", STATE_WORDS[State(case.state)]),
    ]
    if customer and shown_to_customers(Detail.IMPACT):
        fields.insert(1, Field("Impact", impact_label(config, case.impact)))
    if assignee_name:
        fields.append(Field("Engineer", assignee_name))
    return fields


def impact_buttons(config: Config, case: Case) -> list[Action]:
    """One button per other impact: the customer corrects the impact casebot gave."""
    return [
        act(case.key, "impact", f"Impact: {impact.label}", arg=key)
        for key, impact in config.impacts.items()
        if key != case.impact
    ][:4]


def case_opened(config: Config, case: Case, how: str = "chosen") -> Message:
    how = IMPACT_HOW[how]
    return Message(
        kind=Kind.CASE_OPENED,
        target=Target.case_customer(case.key),
        title=f"{case.key} opened: {case.title}",
        text=(
            f"Thanks, we have your case. Impact: {impact_label(config, case.impact)}{how}. "
            "Replies in this thread reach your support engineer."
        ),
        fields=case_fields(config, case, customer=True),
        actions=[escalate_button(case), *impact_buttons(config, case)],
        case_key=case.key,
        ref=f"case:{case.key}",
    )


def case_status(config: Config, case: Case, assignee_name: str | None, note: str) -> Message:
    """The customer-facing case message, edited in place to show the current state."""
    msg = case_opened(config, case)
    msg.kind = Kind.CASE_UPDATE
    msg.text = note
    msg.fields = case_fields(config, case, assignee_name, customer=True)
    msg.update = True
    if case.state in (State.RESOLVED, State.CLOSED):
        msg.actions = []
    elif case.state not in IMPACT_STATES:
        msg.actions = [escalate_button(case)]  # the impact is settled once work starts
    return msg


def kb_suggestions(case: Case, hits: Sequence[tuple[str, str, str]]) -> Message:
    lines = [f"• {key} — {title}\n  {snippet}" for key, title, snippet in hits]
    actions = [
        act(case.key, "kb_accept", f"This solved it ({key})", Style.PRIMARY, arg=key)
        for key, _, _ in hits
    ]
    actions.append(act(case.key, "kb_reject", "Not my problem"))
    return Message(
        kind=Kind.KB_SUGGESTIONS,
        target=Target.case_customer(case.key),
        title=f"While we route {case.key}: do any of these articles solve it?",
        text="\n".join(lines)
        + f"\nOr type `/case kb accept {case.key} KB-n` or `/case kb reject {case.key}`.",
        actions=actions,
        case_key=case.key,
        ref=f"kb:{case.key}",
    )


def triage_alert(
    config: Config,
    case: Case,
    kb_lines: Sequence[str],
    eng_lines: Sequence[str],
    claimed_by: str | None = None,
    update: bool = False,
    how: str = "claimed",
    team: str | None = None,
    status: str | None = None,
    nobody: str | None = None,
) -> Message:
    """The team's card for a case: claimable until someone has it. ``how`` says how it
    was taken (claimed, or assigned); ``team`` is the channel whose card this is (the
    case's team unless told); ``status`` replaces the status line (e.g. a move)."""
    account = config.account(case.account_key)
    team = team if team is not None else case.team or ""
    fields = [
        Field("Account", account.name if account else case.account_key),
        Field("Tier", account.tier if account else "unknown"),
        Field("Severity", case.severity),
        Field("Area", case.area or "not set"),
        Field("Type", config.case_types.get(case.case_type or "", case.case_type or "not set")),
    ]
    if kb_lines:
        fields.append(Field("Knowledge base", "\n".join(kb_lines)))
    if eng_lines:
        fields.append(Field("Known engineering issues", "\n".join(eng_lines)))
    if status:
        fields.append(Field("Status", status))
    if nobody and not claimed_by:
        fields.append(Field("Nobody can take it", f"{nobody}: claim it or assign it"))
    if claimed_by:
        if not status:
            word = "Claimed by" if how == "claimed" else "Assigned to"
            fields.append(Field("Status", f"{word} {claimed_by}"))
        actions = [act(case.key, "assign", "Reassign…")]
    else:
        actions = [
            act(case.key, "claim", "Claim", Style.PRIMARY),
            act(case.key, "assign", "Assign…"),
        ]
    actions += [act(case.key, "area", "Change area"), act(case.key, "severity", "Change severity")]
    if team != (case.team or ""):
        actions = []  # the card of a team the case has moved away from
    return Message(
        kind=Kind.TRIAGE_ALERT,
        target=Target.team(team),
        title=f"New case {case.key} [{case.severity}]: {case.title}",
        text=case.description[:1500],
        fields=fields,
        actions=actions,
        case_key=case.key,
        # Per team: after an area change moves the case, updates edit the new team's alert.
        ref=f"triage:{case.key}:{team}",
        update=update,
    )


def triage_digest(team: str, ref: str, lines: Sequence[DigestLine]) -> Message:
    """A storm's new cases in one message (bot.delivery.digest): a line is (case keys,
    "[S2] Account", title, the ENG issue they look like, the look-alikes' button arg)."""
    acts = [act(k, "claim", f"Claim {k}", Style.PRIMARY) for keys, *_ in lines for k in keys]
    for keys, _, _, eng, arg in (line for line in lines if len(line[0]) > 1):
        label = f"Link {len(keys)} to {eng}" if eng else f"One defect for {len(keys)}"
        acts.append(act(keys[0], "link_all", label, arg=arg))
    n = sum(len(keys) for keys, *_ in lines)
    fields = [Field(f"{', '.join(keys)} {what}", title) for keys, what, title, *_ in lines]
    text = "New cases came faster than one card each; a card follows when a case is claimed."
    title = f"Triage digest: {count(n, 'new case')}"
    return Message(Kind.TRIAGE_DIGEST, Target.team(team), title, text, fields, acts, ref=ref)


def assignment_ping(config: Config, case: Case, engineer_id: str, by: str) -> Message:
    return Message(
        kind=Kind.ASSIGNMENT_PING,
        target=Target.person(engineer_id),
        title=f"{case.key} is yours: {case.title}",
        text=f"Assigned by {by}. Start with `/case replicating {case.key}`.",
        fields=case_fields(config, case),
        actions=[act(case.key, "replicating", "Start replicating", Style.PRIMARY)],
        case_key=case.key,
        mentions=[engineer_id],
    )


def to_customer(
    case: Case,
    title: str,
    text: str = "",
    kind: Kind = Kind.CASE_UPDATE,
    actions: list[Action] | None = None,
) -> Message:
    return Message(
        kind=kind,
        target=Target.case_customer(case.key),
        title=title,
        text=text,
        actions=[*(actions or []), escalate_button(case)]
        if case.state not in (State.RESOLVED, State.CLOSED)
        else list(actions or []),
        case_key=case.key,
    )


def to_staff(case: Case, title: str, text: str = "", kind: Kind = Kind.CASE_UPDATE) -> Message:
    return Message(
        kind=kind, target=Target.case_staff(case.key), title=title, text=text, case_key=case.key
    )


def to_person(
    person_id: str,
    case: Case | None,
    title: str,
    text: str = "",
    kind: Kind = Kind.CASE_UPDATE,
    actions: list[Action] | None = None,
    fields: list[Field] | None = None,
    ping: bool = False,
) -> Message:
    return Message(
        kind=kind,
        target=Target.person(person_id),
        title=title,
        text=text,
        fields=list(fields or []),
        actions=list(actions or []),
        case_key=case.key if case else None,
        mentions=[person_id] if ping else [],
    )


def info_request(case: Case, engineer: str, question: str) -> Message:
    return to_customer(
        case, f"{engineer} needs more information on {case.key}", question, Kind.INFO_REQUEST
    )


def resolution_proposal(case: Case, engineer: str, resolution: str) -> Message:
    return to_customer(
        case,
        f"{engineer} proposes a resolution for {case.key}",
        f"{resolution}\n\nDoes this solve your problem?",
        Kind.RESOLUTION_PROPOSAL,
        [
            act(case.key, "confirm", "Confirm, it's solved", Style.PRIMARY),
            act(case.key, "reject", "Reject", Style.DANGER),
        ],
    )


def chase_reminder(case: Case, step: int) -> Message:
    if case.state == State.SOLUTION_PROPOSED:
        text = (
            "We proposed a resolution and haven't heard back:\n"
            f"{case.proposed_resolution or ''}\nPlease confirm or reject it."
        )
        actions = [
            act(case.key, "confirm", "Confirm, it's solved", Style.PRIMARY),
            act(case.key, "reject", "Reject", Style.DANGER),
        ]
    else:
        text = (
            "We're waiting for your answer to:\n"
            f"{case.info_request or ''}\nReply in this thread or with "
            f"`/case reply {case.key} …`."
        )
        actions = []
    return to_customer(
        case, f"Reminder {step} on {case.key}: {case.title}", text, Kind.CHASE_REMINDER, actions
    )


def phone_task(
    config: Config, case: Case, engineer_id: str, customer_name: str, phone: str | None
) -> Message:
    account = config.account(case.account_key)
    return to_person(
        engineer_id,
        case,
        f"Call the customer on {case.key}: no answer to our reminders",
        f"Please phone {customer_name} at {account.name if account else case.account_key}.",
        Kind.PHONE_TASK,
        [
            act(case.key, "called", "Reached", Style.PRIMARY, arg="reached"),
            act(case.key, "called", "Not reached", arg="not-reached"),
        ],
        [
            Field("Phone", phone or "no number on file"),
            Field(
                "Waiting since",
                case.waiting_since.strftime("%Y-%m-%d %H:%M UTC")
                if case.waiting_since
                else "unknown",
            ),
        ],
        ping=True,
    )


def escalation_dm(
    config: Config,
    case: Case,
    csm_id: str,
    customer: str | None,
    reason: str,
    timeline: str,
    level: int,
) -> Message:
    """``customer`` None: casebot escalated by itself (a breached target, an
    unacknowledged escalation), and the title says so rather than naming the customer."""
    who = "the account's CSM" if level == 1 else "the support lead"
    source = f"from {customer}" if customer else "raised automatically by casebot"
    return to_person(
        csm_id,
        case,
        f"Escalation on {case.key} [{case.severity}] {source}: {case.title}",
        f"Reason: {reason}\nYou are receiving this as {who}.\n\nTimeline:\n{timeline}",
        Kind.ESCALATION_DM,
        [
            act(case.key, "ack", "Acknowledge", Style.PRIMARY),
            act(case.key, "raise", "Raise severity", Style.DANGER),
            act(case.key, "assign", "Reassign…"),
            act(case.key, "join", "Join the thread"),
        ],
        case_fields(config, case),
        ping=True,
    )


def eng_update(
    issue: EngIssue,
    title: str,
    text: str,
    target: Target,
    case_key: str | None = None,
    follow: bool = True,
    *,
    customer: bool = False,
    ref: str | None = None,
    update: bool = False,
) -> Message:
    """An engineering issue's news; ``customer`` for a customer's eyes (the status in
    their words, no priority score: bot.disclosure)."""
    if customer:
        fields = [Field("Status", eng_status_words(issue.status))]
        if shown_to_customers(Detail.ENG_PRIORITY):
            fields.append(Field("Priority", str(issue.priority_score)))
    else:
        fields = [Field("Status", issue.status), Field("Priority", str(issue.priority_score))]
    return Message(
        kind=Kind.ENG_UPDATE,
        target=target,
        title=title,
        text=text,
        ref=ref,
        update=update,
        fields=fields,
        actions=[Action(action_id("eng", issue.key, "follow"), f"Follow {issue.key}")]
        if follow
        else [],
        case_key=case_key,
        eng_key=issue.key,
    )


def survey_prompt(config: Config, case: Case, transcript_url: str | None = None) -> Message:
    text = "1 is very unsatisfied, 5 very satisfied. You can add a comment after rating."
    if transcript_url:
        text += f"\nThe whole conversation, to keep: {transcript_url}"
    return Message(
        kind=Kind.SURVEY_PROMPT,
        target=Target.case_customer(case.key),
        # Resolved, not "closed": the case can still be reopened for a while.
        title=f"{case.key} is {STATE_WORDS[State(case.state)]}. {config.survey.question}",
        text=text,
        actions=[act(case.key, "rate", str(n), arg=str(n)) for n in range(1, 6)],
        case_key=case.key,
        ref=f"survey:{case.key}",
    )


def kb_draft(case: Case, engineer_id: str, kb_key: str, text: str) -> Message:
    """The draft written from a resolved case, in full: read it before it is public."""
    return to_person(
        engineer_id,
        case,
        f"Draft knowledge-base article {kb_key} from {case.key}",
        f"No existing article solved {case.key}, so a draft was written from it. Read it: "
        "it becomes public, as it stands, when you publish it. Correct a section with "
        f"`/case kb edit {kb_key} <section> <text>`, or discard it.\n{text}",
        Kind.KB_DRAFT,
        [
            Action(action_id("kb", kb_key, "publish"), "Publish", Style.PRIMARY),
            Action(action_id("kb", kb_key, "discard"), "Discard"),
        ],
    )


__all__ = ["timeline_text"]  # kept here for the builders' callers


def count(n: int, word: str, plural: str | None = None) -> str:
    """``1 account``, ``2 accounts``: the one way counts are written."""
    return f"{n} {word if n == 1 else plural or word + 's'}"
