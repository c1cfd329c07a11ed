"""What each ``/case`` subcommand does: one small function per command, taking the unit
of work, the actor and the typed arguments, calling the core's use case or read
model. No rule lives here: permissions are the policy table's, validation the use
case's, words the core's."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot import cases, digest, engineering, following, held_mail, knowledge, views
from bot.actors import Actor
from bot.cases import NewCase
from bot.errors import Refusal
from bot.reports import links
from bot.reports import read as reports
from bot.work import Work

Args = Mapping[str, Any]
Handler = Callable[[Work, Actor, Args], Awaitable[str]]


async def open_(w: Work, a: Actor, args: Args) -> str:
    case = await cases.open_case(
        w,
        a,
        NewCase(
            title=args.get("title", ""),
            description=args.get("description") or "",
            area=args.get("area") or None,
            case_type=args.get("type") or None,
            impact=args.get("impact") or None,
            origin_channel=w.origin_channel,
        ),
    )
    return f"Opened {case.key}: {case.title}. Severity {case.severity}."


async def list_(w: Work, a: Actor, args: Args) -> str:
    return await views.case_list(w, a)


async def show(w: Work, a: Actor, args: Args) -> str:
    return await views.case_page(w, a, args["case"])


async def queue(w: Work, a: Actor, args: Args) -> str:
    held = await held_mail.queue_lines(w, a)
    return "\n".join([await views.queue(w, a), *held]).strip()


async def stats(w: Work, a: Actor, args: Args) -> str:
    return await reports.stats(w, a, args.get("period"))


async def reply(w: Work, a: Actor, args: Args) -> str:
    return await cases.reply(w, a, args["case"], args["text"])


async def confirm(w: Work, a: Actor, args: Args) -> str:
    return await cases.confirm(w, a, args["case"])


async def reject(w: Work, a: Actor, args: Args) -> str:
    return await cases.reject(w, a, args["case"], args["reason"])


async def escalate(w: Work, a: Actor, args: Args) -> str:
    return await cases.escalate(w, a, args["case"], args["reason"])


async def reopen(w: Work, a: Actor, args: Args) -> str:
    return await cases.reopen(w, a, args["case"], args["reason"] or "reopened by the customer")


async def withdraw(w: Work, a: Actor, args: Args) -> str:
    return await cases.withdraw(w, a, args["case"], args.get("confirm") or "")


async def follow(w: Work, a: Actor, args: Args) -> str:
    return await following.follow(w, a, args["issue"], True)


async def unfollow(w: Work, a: Actor, args: Args) -> str:
    return await following.follow(w, a, args["issue"], False)


def rating_of(args: Args) -> int:
    rating = args["rating"]
    if not isinstance(rating, int):
        raise Refusal("The rating is a number from 1 to 5.")
    return rating


async def survey(w: Work, a: Actor, args: Args) -> str:
    return await cases.survey(w, a, args["case"], rating_of(args), args["comment"])


async def comment(w: Work, a: Actor, args: Args) -> str:
    return await cases.survey_comment(w, a, args["case"], args["comment"])


async def feedback(w: Work, a: Actor, args: Args) -> str:
    return await cases.feedback(w, a, args["text"])


async def claim(w: Work, a: Actor, args: Args) -> str:
    return await cases.claim(w, a, args["case"])


async def assign(w: Work, a: Actor, args: Args) -> str:
    return await cases.assign(w, a, args["case"], args["engineer"])


async def area(w: Work, a: Actor, args: Args) -> str:
    return await cases.change_area(w, a, args["case"], args["area"])


async def severity(w: Work, a: Actor, args: Args) -> str:
    return await cases.change_severity(w, a, args["case"], args["level"])


async def raise_(w: Work, a: Actor, args: Args) -> str:
    return await cases.raise_case_severity(w, a, args["case"])


async def replicating(w: Work, a: Actor, args: Args) -> str:
    return await cases.replicating(w, a, args["case"])


async def need_info(w: Work, a: Actor, args: Args) -> str:
    return await cases.need_info(w, a, args["case"], args["question"])


async def propose(w: Work, a: Actor, args: Args) -> str:
    return await cases.propose(w, a, args["case"], args["resolution"])


async def defect(w: Work, a: Actor, args: Args) -> str:
    return await engineering.log_issue(w, a, args["case"], "defect", args["title"])


async def enhancement(w: Work, a: Actor, args: Args) -> str:
    return await engineering.log_issue(w, a, args["case"], "enhancement", args["title"])


async def link(w: Work, a: Actor, args: Args) -> str:
    return await engineering.link(w, a, args["case"], args["issue"])


async def link_all(w: Work, a: Actor, args: Args) -> str:
    return await digest.link_all(w, a, args["case"], args["group"])


async def note(w: Work, a: Actor, args: Args) -> str:
    return await cases.note(w, a, args["case"], args["text"])


async def called(w: Work, a: Actor, args: Args) -> str:
    return await cases.called(w, a, args["case"], args["outcome"], args["note"])


async def duplicate(w: Work, a: Actor, args: Args) -> str:
    return await cases.duplicate(w, a, args["case"], args["of"])


async def eng_list(w: Work, a: Actor, args: Args) -> str:
    return await engineering.backlog(w, a)


async def eng_show(w: Work, a: Actor, args: Args) -> str:
    return await engineering.show(w, a, args["issue"])


async def eng_status(w: Work, a: Actor, args: Args) -> str:
    return await engineering.set_status(
        w, a, args["issue"], args["status"], args["note"], bool(args.get("public"))
    )


async def kb_search(w: Work, a: Actor, args: Args) -> str:
    return await knowledge.search(w, a, args["query"])


async def kb_drafts(w: Work, a: Actor, args: Args) -> str:
    return await knowledge.drafts(w, a)


async def kb_show(w: Work, a: Actor, args: Args) -> str:
    return await knowledge.show(w, a, args["draft"])


async def kb_edit(w: Work, a: Actor, args: Args) -> str:
    return await knowledge.edit(w, a, args["draft"], args["section"], args["text"])


async def kb_publish(w: Work, a: Actor, args: Args) -> str:
    return await knowledge.publish(w, a, args["draft"])


async def kb_discard(w: Work, a: Actor, args: Args) -> str:
    return await knowledge.discard(w, a, args["draft"])


async def kb_accept(w: Work, a: Actor, args: Args) -> str:
    return await cases.kb_accept(w, a, args["case"], args["article"])


async def kb_reject(w: Work, a: Actor, args: Args) -> str:
    return await cases.kb_reject(w, a, args["case"])


async def ack(w: Work, a: Actor, args: Args) -> str:
    return await cases.ack(w, a, args["case"], args["note"])


async def join(w: Work, a: Actor, args: Args) -> str:
    return await cases.join(w, a, args["case"])


async def dashboard(w: Work, a: Actor, args: Args) -> str:
    return await links.dashboard(w, a)


async def transcript(w: Work, a: Actor, args: Args) -> str:
    return await links.transcript(w, a, args["case"])


async def impact(w: Work, a: Actor, args: Args) -> str:
    return await cases.change_impact(w, a, args["case"], args["impact"])


async def accept_email(w: Work, a: Actor, args: Args) -> str:
    return await held_mail.accept(w, a, args["mail"], args["account"])


async def decline_email(w: Work, a: Actor, args: Args) -> str:
    return await held_mail.decline(w, a, args["mail"])
