"""The `/case` command set, once for every platform: parse, check, call the core.

Every button press maps onto one of these subcommands, so a button and its command
can never disagree.
"""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import ColumnElement, func, or_, select

from bot import cases, engineering, knowledge
from bot.app import Duplicate
from bot.cases import NewCase
from bot.errors import Refusal
from bot.lifecycle import ACTIVE, STATE_WORDS, WAITING_ON_CUSTOMER, State
from bot.work import Actor, Work, normalize_key
from commands.api import (
    CaseLine,
    Context,
    HomeView,
    Option,
    Prompt,
    PromptField,
    Reply,
)
from storage.models import Case, CaseEvent, Conversation, PersonRow, SurveyAnswer

if TYPE_CHECKING:
    from bot.app import Casebot

log = structlog.get_logger(__name__)

Handler = Callable[[Work, Actor, list[str], str], Awaitable[str]]

CUSTOMER, ENGINEER, CSM, LEAD = "customer", "engineer", "csm", "lead"
STAFF = (ENGINEER, CSM, LEAD)
EVERYONE = (CUSTOMER, ENGINEER, CSM, LEAD)


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    does: str
    roles: tuple[str, ...]
    handler: Handler
    min_args: int = 0
    reads_only: bool = False


def _need(args: list[str], n: int, usage: str) -> None:
    if len(args) < n:
        raise Refusal(f"Usage: `/case {usage}`")


# -- handlers: (work, actor, args, rest-of-text-after-the-fixed-args) ----------------


async def _open(w: Work, a: Actor, args: list[str], rest: str) -> str:
    case = await cases.open_case(w, a, NewCase(title=rest, origin_channel=w_origin(w)))
    return f"Opened {case.key}: {case.title}. Severity {case.severity}."


def w_origin(w: Work) -> str | None:
    return getattr(w, "origin_channel", None)


async def _list(w: Work, a: Actor, args: list[str], rest: str) -> str:
    stmt = select(Case).order_by(Case.id.desc()).limit(25)
    if a.is_customer:
        stmt = stmt.where(Case.account_key == a.account_key)
    else:
        stmt = stmt.where(Case.state.in_([s.value for s in ACTIVE]))
    rows = (await w.session.scalars(stmt)).all()
    if not rows:
        return "No cases." if a.is_customer else "No open cases."
    head = "Your account's cases:" if a.is_customer else "Open cases:"
    return head + "\n" + "\n".join([await _line(w, c) for c in rows])


async def _line(w: Work, c: Case) -> str:
    who = f", {await w.person_name(c.assignee_id)}" if c.assignee_id else ""
    return f"{c.key} [{c.severity}] {c.title} — {STATE_WORDS[State(c.state)]}{who}"


async def _show(w: Work, a: Actor, args: list[str], rest: str) -> str:
    case = await w.case(args[0], lock=False)
    from bot.policy import require_visible

    require_visible(a, case)
    events = (
        await w.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    ).all()
    if a.is_customer:
        events = [e for e in events if not e.internal]
    names = {p.id: p.name for p in w.config.people}
    account = w.config.account(case.account_key)
    lines = [
        f"{case.key}: {case.title}",
        f"State: {STATE_WORDS[State(case.state)]}"
        + (f" ({case.close_reason})" if case.close_reason else ""),
        f"Severity {case.severity} · area {case.area or 'not set'} · "
        f"account {account.name if account else case.account_key}",
        f"Engineer: {await w.person_name(case.assignee_id) if case.assignee_id else 'not yet'}",
    ]
    if case.escalation_level:
        lines.append(
            f"Escalated: level {case.escalation_level}"
            + (" (acknowledged)" if case.escalation_acked_at else "")
        )
    sla = getattr(w, "sla_text", None)
    if callable(sla):
        text = await sla(case)
        if text:
            lines.append(text)
    if case.description:
        lines.append(f"Description: {case.description}")
    from bot.templates import timeline_text

    lines.append("Timeline:")
    lines.append(timeline_text(events, names, limit=50))
    return "\n".join(lines)


async def _reply(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.reply(w, a, args[0], rest)


async def _confirm(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.confirm(w, a, args[0])


async def _reject(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.reject(w, a, args[0], rest)


async def _escalate(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.escalate(w, a, args[0], rest)


async def _reopen(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.reopen(w, a, args[0], rest or "reopened by the customer")


async def _withdraw(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.withdraw(w, a, args[0])


async def _follow(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await engineering.follow(w, a, args[0], True)


async def _unfollow(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await engineering.follow(w, a, args[0], False)


async def _survey(w: Work, a: Actor, args: list[str], rest: str) -> str:
    try:
        rating = int(args[1])
    except ValueError:
        raise Refusal(
            "The rating is a number from 1 to 5: `/case survey CASE-n <1-5> [comment]`."
        ) from None
    return await cases.survey(w, a, args[0], rating, rest)


async def _feedback(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.feedback(w, a, rest)


async def _queue(w: Work, a: Actor, args: list[str], rest: str) -> str:
    view = await home_view(w, a)
    lines = []
    for title, items in view.sections:
        lines.append(f"{title} ({len(items)}):")
        lines.extend(
            f"  {c.key} [{c.severity}] {c.title} — {STATE_WORDS[State(c.state)]}"
            + (f" · {c.time_left}" if c.time_left else "")
            for c in items
        )
    return "\n".join(lines)


async def _claim(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.claim(w, a, args[0])


async def _assign(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.assign(w, a, args[0], resolve_person(w, args[1]))


async def _area(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.change_area(w, a, args[0], args[1])


async def _severity(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.change_severity(w, a, args[0], args[1])


async def _replicating(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.replicating(w, a, args[0])


async def _need_info(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.need_info(w, a, args[0], rest)


async def _propose(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.propose(w, a, args[0], rest)


async def _defect(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await engineering.log_issue(w, a, args[0], "defect", rest)


async def _enhancement(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await engineering.log_issue(w, a, args[0], "enhancement", rest)


async def _link(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await engineering.link(w, a, args[0], args[1])


async def _note(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.note(w, a, args[0], rest)


async def _called(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.called(w, a, args[0], args[1], rest)


async def _duplicate(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.duplicate(w, a, args[0], args[1])


async def _eng(w: Work, a: Actor, args: list[str], rest: str) -> str:
    sub = args[0].lower() if args else "list"
    if sub == "list":
        return await engineering.backlog(w, a)
    if sub == "show":
        _need(args, 2, "eng show ENG-n")
        return await engineering.show(w, a, args[1])
    if sub == "status":
        _need(args, 3, "eng status ENG-n <open|in_progress|fixed|released|wont_fix> [note]")
        note = rest_after(rest, 3, args)
        return await engineering.set_status(w, a, args[1], args[2], note)
    raise Refusal(
        "Usage: `/case eng list`, `/case eng show ENG-n`, `/case eng status ENG-n <status> [note]`"
    )


async def _kb(w: Work, a: Actor, args: list[str], rest: str) -> str:
    sub = args[0].lower() if args else ""
    if sub == "search":
        return await knowledge.search(w, a, rest_after(rest, 1, args))
    if sub == "publish":
        _need(args, 2, "kb publish KB-n")
        return await knowledge.publish(w, a, args[1])
    if sub == "discard":
        _need(args, 2, "kb discard KB-n")
        return await knowledge.discard(w, a, args[1])
    if sub == "drafts":
        return await knowledge.drafts(w, a)
    raise Refusal(
        "Usage: `/case kb search <words>`, `/case kb drafts`, "
        "`/case kb publish KB-n`, `/case kb discard KB-n`"
    )


async def _ack(w: Work, a: Actor, args: list[str], rest: str) -> str:
    return await cases.ack(w, a, args[0], rest)


async def _stats(w: Work, a: Actor, args: list[str], rest: str) -> str:
    rows = (await w.session.execute(select(Case.state, func.count()).group_by(Case.state))).all()
    by_state = {str(s): int(n) for s, n in rows}
    total = sum(by_state.values())
    all_cases = (await w.session.scalars(select(Case))).all()
    fr = [
        (c.first_response_at - c.created_at).total_seconds()
        for c in all_cases
        if c.first_response_at
    ]
    res = [(c.resolved_at - c.created_at).total_seconds() for c in all_cases if c.resolved_at]
    ratings = (await w.session.scalars(select(SurveyAnswer.rating))).all()
    deflected = sum(1 for c in all_cases if c.close_reason == "deflected")
    lines = [f"Cases: {total}"]
    lines += [f"  {STATE_WORDS[State(s)]}: {n}" for s, n in sorted(by_state.items())]
    if fr:
        lines.append(f"Mean first response: {_hm(sum(fr) / len(fr))}")
    if res:
        lines.append(f"Mean time to resolution: {_hm(sum(res) / len(res))}")
    lines.append(f"Resolved by the knowledge base: {deflected}")
    if ratings:
        lines.append(f"Survey: {sum(ratings) / len(ratings):.1f}/5 over {len(ratings)} answers")
    return "\n".join(lines)


def _hm(seconds: float) -> str:
    m = int(seconds // 60)
    return f"{m // 60}h {m % 60:02d}m"


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in [
        Command("open", "open <title>", "open a case (no title: the form)", (CUSTOMER,), _open),
        Command(
            "list",
            "list",
            "your account's cases (staff: the open cases)",
            EVERYONE,
            _list,
            reads_only=True,
        ),
        Command(
            "show", "show CASE-n", "one case with its timeline", EVERYONE, _show, 1, reads_only=True
        ),
        Command("reply", "reply CASE-n <text>", "a message on the case", EVERYONE, _reply, 1),
        Command(
            "confirm", "confirm CASE-n", "accept the proposed resolution", (CUSTOMER,), _confirm, 1
        ),
        Command(
            "reject",
            "reject CASE-n <reason>",
            "refuse the proposed resolution",
            (CUSTOMER,),
            _reject,
            1,
        ),
        Command(
            "escalate",
            "escalate CASE-n <reason>",
            "escalate to your CSM",
            (CUSTOMER,),
            _escalate,
            1,
        ),
        Command(
            "reopen", "reopen CASE-n <reason>", "reopen a resolved case", (CUSTOMER,), _reopen, 1
        ),
        Command(
            "withdraw", "withdraw CASE-n", "close your case yourself", (CUSTOMER,), _withdraw, 1
        ),
        Command("follow", "follow ENG-n", "hear about an engineering issue", EVERYONE, _follow, 1),
        Command("unfollow", "unfollow ENG-n", "stop following it", EVERYONE, _unfollow, 1),
        Command(
            "survey",
            "survey CASE-n <1-5> [comment]",
            "rate how we handled a case",
            (CUSTOMER,),
            _survey,
            2,
        ),
        Command("feedback", "feedback <text>", "tell us anything, any time", EVERYONE, _feedback),
        Command(
            "queue",
            "queue",
            "assigned to me, waiting for triage, waiting on customers",
            STAFF,
            _queue,
            reads_only=True,
        ),
        Command("claim", "claim CASE-n", "take a case", (ENGINEER, LEAD), _claim, 1),
        Command(
            "assign", "assign CASE-n <person>", "give a case to an engineer", STAFF, _assign, 2
        ),
        Command(
            "area", "area CASE-n <area>", "correct the product area", (ENGINEER, LEAD), _area, 2
        ),
        Command("severity", "severity CASE-n <S1-S4>", "correct the severity", STAFF, _severity, 2),
        Command(
            "replicating",
            "replicating CASE-n",
            "start replication",
            (ENGINEER, LEAD),
            _replicating,
            1,
        ),
        Command(
            "need-info",
            "need-info CASE-n <question>",
            "ask the customer; starts the chase",
            (ENGINEER, LEAD),
            _need_info,
            1,
        ),
        Command(
            "propose",
            "propose CASE-n <resolution>",
            "propose a resolution to confirm",
            (ENGINEER, LEAD),
            _propose,
            1,
        ),
        Command(
            "defect",
            "defect CASE-n <title>",
            "log a defect with engineering",
            (ENGINEER, LEAD),
            _defect,
            1,
        ),
        Command(
            "enhancement",
            "enhancement CASE-n <title>",
            "log an enhancement request",
            (ENGINEER, LEAD),
            _enhancement,
            1,
        ),
        Command(
            "link",
            "link CASE-n ENG-n",
            "link to an existing engineering issue",
            (ENGINEER, LEAD),
            _link,
            2,
        ),
        Command(
            "note",
            "note CASE-n <text>",
            "an internal note (never shown to the customer)",
            STAFF,
            _note,
            1,
        ),
        Command(
            "called",
            "called CASE-n reached|not-reached [note]",
            "record a phone call",
            (ENGINEER, LEAD),
            _called,
            2,
        ),
        Command(
            "duplicate",
            "duplicate CASE-n CASE-m",
            "close as a duplicate of another case",
            (ENGINEER, LEAD),
            _duplicate,
            2,
        ),
        Command(
            "eng",
            "eng list | eng show ENG-n | eng status ENG-n <status> [note]",
            "the ranked engineering backlog",
            (ENGINEER, LEAD),
            _eng,
        ),
        Command(
            "kb",
            "kb search <query> | kb drafts | kb publish KB-n | kb discard KB-n",
            "the knowledge base",
            (ENGINEER, LEAD),
            _kb,
        ),
        Command("ack", "ack CASE-n [note]", "acknowledge an escalation", (CSM, LEAD), _ack, 1),
        Command("stats", "stats", "how support is doing", (LEAD,), _stats, reads_only=True),
    ]
}
ALIASES = {
    "needinfo": "need-info",
    "need_info": "need-info",
    "replicate": "replicating",
    "enh": "enhancement",
    "acknowledge": "ack",
    "close": "withdraw",
}
# Where the trailing free text starts, per command (the number of fixed arguments).
FIXED_ARGS = {
    "open": 0,
    "reply": 1,
    "reject": 1,
    "escalate": 1,
    "reopen": 1,
    "survey": 2,
    "feedback": 0,
    "need-info": 1,
    "propose": 1,
    "defect": 1,
    "enhancement": 1,
    "note": 1,
    "called": 2,
    "ack": 1,
    "eng": 0,
    "kb": 0,
}


def rest_after(text: str, n: int, args: list[str]) -> str:
    """The text after the first ``n`` words, with its own spacing kept."""
    s = text.strip()
    for _ in range(n):
        parts = s.split(None, 1)
        s = parts[1] if len(parts) > 1 else ""
    return s


def resolve_person(w: Work, ref: str) -> str:
    """A person by configured id or by the platform's mention (``<@U123>``, ``<@123>``,
    ``<@!123>``, ``@alice``)."""
    r = ref.strip()
    if r.startswith("<@") and r.endswith(">"):
        ident = r[2:-1].lstrip("!").split("|", 1)[0]
        for platform in ("slack", "discord"):
            p = w.config.person_by_identity(platform, ident)
            if p:
                return p.id
        raise Refusal(f"I don't know who {ref} is.")
    r = r.lstrip("@")
    if w.config.person(r):
        return r
    for p in w.config.people:
        if p.name.lower() == r.lower() or r in p.identities.values():
            return p.id
    raise Refusal(f"I don't know anyone called '{ref}'.")


# -- home and queue -----------------------------------------------------------------


async def home_view(w: Work, a: Actor) -> HomeView:
    async def lines(stmt) -> list[CaseLine]:  # type: ignore[no-untyped-def]
        out = []
        for c in (await w.session.scalars(stmt.order_by(Case.severity, Case.id))).all():
            account = w.config.account(c.account_key)
            left = None
            sla = getattr(w, "sla_text", None)
            if callable(sla):
                left = await sla(c, short=True)
            out.append(
                CaseLine(
                    c.key,
                    c.title,
                    c.state,
                    c.severity,
                    account.name if account else c.account_key,
                    await w.person_name(c.assignee_id) if c.assignee_id else None,
                    left,
                )
            )
        return out

    active = [s.value for s in ACTIVE]
    if a.is_customer:
        return HomeView(
            f"{a.name}'s cases",
            [
                (
                    "Open cases",
                    await lines(
                        select(Case).where(
                            Case.account_key == a.account_key, Case.state.in_(active)
                        )
                    ),
                ),
            ],
        )
    sections = [
        (
            "Assigned to me",
            await lines(select(Case).where(Case.assignee_id == a.id, Case.state.in_(active))),
        ),
        (
            "Waiting for triage",
            await lines(
                select(Case).where(Case.state == State.TRIAGED, Case.assignee_id.is_(None))
            ),
        ),
        (
            "Waiting on customers",
            await lines(
                select(Case).where(
                    Case.assignee_id == a.id, Case.state.in_([s.value for s in WAITING_ON_CUSTOMER])
                )
            ),
        ),
    ]
    if a.role in (CSM, LEAD):
        csm_accounts = [acc.key for acc in w.config.accounts if acc.csm == a.id]
        esc = select(Case).where(Case.escalation_level > 0, Case.state.in_(active))
        if a.role == CSM:
            esc = esc.where(Case.account_key.in_(csm_accounts))
        sections.append(("Escalated", await lines(esc)))
    return HomeView(f"{a.name}'s queue", sections)


class CaseCommands:
    """What adapters call (see docs/adapters.md)."""

    def __init__(self, app: Casebot) -> None:
        self.app = app

    # -- actors -------------------------------------------------------------------

    async def actor(self, w: Work, ctx: Context) -> Actor:
        config = self.app.config
        person = config.person_by_identity(ctx.platform, ctx.user_id)
        if person is not None:
            return Actor(person.id, person.name, person.role, person.account, ctx.platform)
        account = None
        if ctx.channel_id:
            account = config.account_for_channel(ctx.platform, ctx.channel_id)
        if account is None and ctx.roles:
            account = config.account_for_roles(ctx.roles)
        pid = f"{ctx.platform}:{ctx.user_id}"
        row = await w.session.get(PersonRow, pid)
        if account is None and row is not None and row.account_key:
            account = config.account(row.account_key)
        if account is None:
            raise Refusal(
                "Sorry, I don't know you yet. Ask your company's support contact "
                "to add you to casebot, then try again."
            )
        name = ctx.user_name or (row.name if row else ctx.user_id)
        if row is None:
            w.session.add(
                PersonRow(
                    id=pid,
                    name=name,
                    role="customer",
                    account_key=account.key,
                    configured=False,
                    identities={ctx.platform: ctx.user_id},
                )
            )
        return Actor(pid, name, "customer", account.key, ctx.platform)

    # -- entry points -------------------------------------------------------------------

    async def _execute(
        self,
        ctx: Context,
        fn: Callable[[Work, Actor], Awaitable[str]],
        *,
        mutating: bool = True,
        case_key: str | None = None,
    ) -> Reply:
        try:
            async with self.app.work(
                ctx.event_id if mutating else None, case_key=case_key if mutating else None
            ) as w:
                w.origin_channel = ctx.channel_id  # type: ignore[attr-defined]
                actor = await self.actor(w, ctx)
                text = await fn(w, actor)
            return Reply(text=text, case_key=case_key)
        except Duplicate:
            return Reply(text="Already done.", duplicate=True, case_key=case_key)
        except Refusal as r:
            return Reply.refuse(r.message, case_key=case_key)
        except Exception:  # noqa: BLE001 - a bug must not take the platform connection down
            log.exception("command.failed", platform=ctx.platform, user=ctx.user_id)
            return Reply.refuse(
                "Something went wrong on our side and nothing was changed. "
                "Please try again; if it keeps happening, tell your support "
                "contact.",
                case_key=case_key,
            )

    async def run(self, ctx: Context, text: str) -> Reply:
        """``/case <text>``."""
        text = text.strip()
        if not text:
            return await self._open_prompt(ctx)
        try:
            words = shlex.split(text, posix=True)
        except ValueError:
            words = text.split()
        if not words:
            return await self._open_prompt(ctx)
        name = ALIASES.get(words[0].lower(), words[0].lower())
        if name == "help":
            return await self._execute(ctx, lambda w, a: self._help(a), mutating=False)
        cmd = COMMANDS.get(name)
        if cmd is None:
            return Reply.refuse(f"I don't know `/case {words[0]}`. Try `/case help`.")
        args = words[1:]
        rest = rest_after(text, 1 + FIXED_ARGS.get(name, len(args)), args)
        key = _case_key(args)

        async def go(w: Work, a: Actor) -> str:
            if a.role not in cmd.roles:
                raise Refusal(f"`/case {cmd.name}` is not for you. Try `/case help`.")
            _need(args, cmd.min_args, cmd.usage)
            return await cmd.handler(w, a, args, rest)

        if name == "open" and not rest:
            return await self._open_prompt(ctx)
        return await self._execute(ctx, go, mutating=not cmd.reads_only, case_key=key)

    def _help(self, a: Actor) -> Awaitable[str]:
        async def go() -> str:
            role = a.role
            mine = [c for c in COMMANDS.values() if role in c.roles]
            lines = [f"What you can do, {a.name} ({role}):", "`/case help` — this list"]
            if role == CUSTOMER:
                lines.append("`/case` — open a case with a form")
            lines += [f"`/case {c.usage}` — {c.does}" for c in mine]
            return "\n".join(lines)

        return go()

    async def _open_prompt(self, ctx: Context) -> Reply:
        async def check(w: Work, a: Actor) -> str:
            if not a.is_customer:
                raise Refusal("Cases are opened by customers. Try `/case help`.")
            return ""

        reply = await self._execute(ctx, check, mutating=False)
        if not reply.ok:
            return reply
        return Reply(text="Tell us about the problem.", prompt=self.open_form())

    def open_form(self) -> Prompt:
        c = self.app.config
        return Prompt(
            form_id="open",
            title="Open a support case",
            fields=(
                PromptField(
                    "title",
                    "Title",
                    "text",
                    max_length=200,
                    placeholder="What is wrong, in a sentence",
                ),
                PromptField(
                    "area",
                    "Product area",
                    "select",
                    tuple(Option(a.key, a.name) for a in c.product_areas),
                    required=False,
                ),
                PromptField(
                    "type", "Type", "select", tuple(Option(k, v) for k, v in c.case_types.items())
                ),
                PromptField(
                    "impact",
                    "Business impact",
                    "select",
                    tuple(Option(k, v.label) for k, v in c.impacts.items()),
                ),
                PromptField(
                    "description",
                    "Description",
                    "textarea",
                    required=False,
                    placeholder="What you did, what you expected, what happened",
                ),
            ),
            submit_label="Open case",
        )

    async def press(self, ctx: Context, action_id: str, value: str | None = None) -> Reply:
        """A button: ``case:CASE-3:claim`` does what ``/case claim CASE-3`` does."""
        parts = action_id.split(":")
        if len(parts) < 3 or parts[0] not in ("case", "eng", "kb"):
            return Reply.refuse("That button is not one of mine.")
        kind, key, action, arg = parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else None
        if kind == "eng":
            if action in ("follow", "unfollow"):
                return await self.run(ctx, f"{action} {key}")
            return Reply.refuse("That button is not one of mine.")
        if kind == "kb":
            if action in ("publish", "discard"):
                return await self.run(ctx, f"kb {action} {key}")
            return Reply.refuse("That button is not one of mine.")
        simple = {
            "claim": "claim",
            "confirm": "confirm",
            "ack": "ack",
            "withdraw": "withdraw",
            "replicating": "replicating",
        }
        if action in simple:
            return await self.run(ctx, f"{simple[action]} {key} {value or ''}".strip())
        if action == "called" and arg in ("reached", "not-reached"):
            return await self.run(ctx, f"called {key} {arg}")
        if action == "kb_accept" and arg:
            return await self._execute(
                ctx, lambda w, a: cases.kb_accept(w, a, key, arg), case_key=key
            )
        if action == "kb_reject":
            return await self._execute(ctx, lambda w, a: cases.kb_reject(w, a, key), case_key=key)
        if action == "raise":
            return await self._execute(
                ctx, lambda w, a: cases.raise_case_severity(w, a, key), case_key=key
            )
        if action == "join":
            return await self._execute(ctx, lambda w, a: cases.join(w, a, key), case_key=key)
        if action == "rate" and arg and arg.isdigit():
            reply = await self.run(ctx, f"survey {key} {arg}")
            if reply.ok and not reply.duplicate:
                reply.prompt = Prompt(
                    f"survey_comment:{key}",
                    "Anything to add?",
                    (PromptField("comment", "Comment (optional)", "textarea", required=False),),
                    "Send",
                )
            return reply
        prompts = {
            "reject": Prompt(
                f"reject:{key}",
                f"Reject the resolution of {key}",
                (PromptField("reason", "Why doesn't it solve the problem?", "textarea"),),
                "Reject",
            ),
            "escalate": Prompt(
                f"escalate:{key}",
                f"Escalate {key}",
                (PromptField("reason", "Why are you escalating?", "textarea"),),
                "Escalate",
            ),
            "assign": Prompt(
                f"assign:{key}",
                f"Assign {key}",
                (
                    PromptField(
                        "person",
                        "Engineer",
                        "select",
                        tuple(
                            Option(p.id, p.name)
                            for p in self.app.config.people
                            if p.role in ("engineer", "lead")
                        ),
                    ),
                ),
                "Assign",
            ),
            "area": Prompt(
                f"area:{key}",
                f"Change the area of {key}",
                (
                    PromptField(
                        "area",
                        "Product area",
                        "select",
                        tuple(Option(a.key, a.name) for a in self.app.config.product_areas),
                    ),
                ),
                "Change",
            ),
            "severity": Prompt(
                f"severity:{key}",
                f"Change the severity of {key}",
                (
                    PromptField(
                        "severity",
                        "Severity",
                        "select",
                        tuple(Option(s, s) for s in ("S1", "S2", "S3", "S4")),
                    ),
                ),
                "Change",
            ),
        }
        if action in prompts:
            if value:
                return await self.submit(
                    ctx, prompts[action].form_id, {prompts[action].fields[0].name: value}
                )
            # Check the person may do it before showing a form they can't submit.
            probe = await self._probe(ctx, key, action)
            if probe is not None:
                return probe
            return Reply(text="", prompt=prompts[action], case_key=key)
        return Reply.refuse("That button is not one of mine.")

    async def _probe(self, ctx: Context, key: str, action: str) -> Reply | None:
        from bot.policy import require_customer, require_visible

        async def check(w: Work, a: Actor) -> str:
            case = await w.case(key, lock=False)
            require_visible(a, case)
            if action in ("reject", "escalate"):
                require_customer(a, case, action)
            elif not a.is_staff:
                raise Refusal(f"Only staff can {action} {case.key}.")
            return ""

        reply = await self._execute(ctx, check, mutating=False)
        return None if reply.ok else reply

    async def submit(self, ctx: Context, form_id: str, values: dict[str, str]) -> Reply:
        """A submitted form (modal)."""
        v = {k: (val or "").strip() for k, val in values.items()}
        if form_id == "open":
            errors = {}
            if not v.get("title"):
                errors["title"] = "Give the case a title."
            elif len(v["title"]) > 200:
                errors["title"] = "Keep the title under 200 characters."
            c = self.app.config
            if v.get("area") and c.area(v["area"]) is None:
                errors["area"] = "Pick one of the product areas."
            if v.get("type") and v["type"] not in c.case_types:
                errors["type"] = "Pick one of the case types."
            if v.get("impact") and v["impact"] not in c.impacts:
                errors["impact"] = "Pick one of the impacts."
            if errors:
                return Reply(text="Please correct the form.", ok=False, errors=errors)

            async def go(w: Work, a: Actor) -> str:
                case = await cases.open_case(
                    w,
                    a,
                    NewCase(
                        title=v["title"],
                        description=v.get("description", ""),
                        area=v.get("area") or None,
                        case_type=v.get("type") or None,
                        impact=v.get("impact") or None,
                        origin_channel=ctx.channel_id,
                    ),
                )
                return f"Opened {case.key}: {case.title}. Severity {case.severity}."

            return await self._execute(ctx, go)
        kind, _, key = form_id.partition(":")
        if kind == "reject":
            return await self.run(ctx, f"reject {key} {v.get('reason', '')}")
        if kind == "escalate":
            return await self.run(ctx, f"escalate {key} {v.get('reason', '')}")
        if kind == "assign":
            return await self.run(ctx, f"assign {key} {v.get('person', '')}")
        if kind == "area":
            return await self.run(ctx, f"area {key} {v.get('area', '')}")
        if kind == "severity":
            return await self.run(ctx, f"severity {key} {v.get('severity', '')}")
        if kind == "survey_comment":
            if not v.get("comment"):
                return Reply(text="Thanks!")

            async def comment(w: Work, a: Actor) -> str:
                from bot.policy import require_customer

                case = await w.case(key, lock=False)
                require_customer(a, case, "answer the survey of")
                row = (
                    await w.session.scalars(
                        select(SurveyAnswer).where(SurveyAnswer.case_id == case.id)
                    )
                ).one_or_none()
                if row is None:
                    raise Refusal(f"Rate {case.key} first.")
                return await cases.survey(w, a, key, row.rating, v["comment"])

            return await self._execute(ctx, comment, case_key=key)
        return Reply.refuse("That form is not one of mine.")

    async def thread_message(self, ctx: Context, text: str) -> Reply | None:
        """A plain message: if it was written in a case conversation, it is a customer
        reply (from the customer's side) or an internal note (from staff)."""
        if not text.strip():
            return None
        async with self.app.db.read() as s:
            conds: list[ColumnElement[bool]] = []
            if ctx.thread_id:
                conds.append(
                    (Conversation.channel == (ctx.channel_id or ""))
                    & (Conversation.thread == ctx.thread_id)
                )
                conds.append(Conversation.thread == ctx.thread_id)
            if ctx.channel_id:
                conds.append(Conversation.thread == ctx.channel_id)
            if not conds:
                return None
            conv = (
                await s.scalars(
                    select(Conversation).where(Conversation.platform == ctx.platform, or_(*conds))
                )
            ).first()
            if conv is None:
                return None
            case = await s.get(Case, conv.case_id)
            if case is None:
                return None
            key, purpose = case.key, conv.purpose

        async def go(w: Work, a: Actor) -> str:
            case = await w.case(key)
            from bot.policy import require_visible

            require_visible(a, case)
            if a.is_customer:
                if case.state == State.RESOLVED:
                    raise Refusal(
                        f"{case.key} is resolved; reopen it with "
                        f"`/case reopen {case.key} <reason>` or open a new case."
                    )
                if case.state not in ACTIVE:  # closed for good: only resolved cases reopen
                    raise Refusal(f"{case.key} is closed; please open a new case.")
                await cases.customer_message(w, a, case, text, echo=False)
                return f"Recorded on {case.key}."
            if purpose == "customer":
                # Staff writing in the customer thread talk to the customer.
                w.event(case, a, "reply", text.strip())
                if case.first_response_at is None:
                    case.first_response_at = w.now
                return f"Recorded on {case.key}."
            return await cases.note(w, a, key, text, post=False)

        return await self._execute(ctx, go, case_key=key)

    async def autocomplete(self, ctx: Context, prefix: str) -> list[tuple[str, str]]:
        try:
            async with self.app.work() as w:
                a = await self.actor(w, ctx)
                stmt = select(Case).order_by(Case.id.desc()).limit(25)
                if a.is_customer:
                    stmt = stmt.where(Case.account_key == a.account_key)
                p = prefix.strip().upper()
                if p:
                    stmt = stmt.where(
                        or_(Case.key.like(f"%{p}%"), func.upper(Case.title).like(f"%{p}%"))
                    )
                rows = (await w.session.scalars(stmt)).all()
                return [(c.key, f"{c.key} · {c.title}"[:100]) for c in rows]
        except Refusal:
            return []

    async def home(self, ctx: Context) -> HomeView:
        try:
            async with self.app.work() as w:
                a = await self.actor(w, ctx)
                return await home_view(w, a)
        except Refusal as r:
            return HomeView(title=r.message, known=False)


def _case_key(args: list[str]) -> str | None:
    for a in args[:1]:
        try:
            return normalize_key(a, "CASE")
        except Refusal:
            return None
    return None
