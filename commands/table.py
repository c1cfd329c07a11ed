"""The ``/case`` command table: every subcommand once, with its typed parameters: its
name (``eng status`` is ``status`` in the ``eng`` group), its policy deed (who may use it
is the policy's answer), parameters, help line, handler, and the ``section`` a platform
that must group subcommands (Discord: 25 per level) files it under. The parser, buttons,
forms and Discord's tree all read this table; a new subcommand is one entry.
"""

from __future__ import annotations

from bot.knowledge import SECTIONS
from bot.policy import Deed
from bot.terms import ENG_STATUSES, SEVERITIES
from commands import handlers as h
from commands.command import Command
from commands.params import Kind, Param

CASE = Param("case", Kind.CASE, "The case, e.g. CASE-12")
HELD = (Param("mail", Kind.TEXT, "A held mail: M-3"), Param("account", Kind.TEXT, "An account"))
ISSUE = Param("issue", Kind.ENG, "The engineering issue, e.g. ENG-3")
DRAFT = Param("draft", Kind.KB, "The draft, e.g. KB-7")
# What `link` links to: an ENG key or, with a tracker, an issue URL or reference.
LINKED = Param(
    "issue",
    Kind.TEXT,
    "ENG-3, or a tracker issue: its URL, owner/repo#123 or KEY-123",
    placeholder="ENG-n|issue URL|owner/repo#123|KEY-123",
)


LOOK_ALIKES = (CASE, Param("group", Kind.TEXT, "The digest's group of look-alike cases"))


def text(name: str, describe: str, *, required: bool = True, placeholder: str = "") -> Param:
    return Param(name, Kind.TEXT, describe, required, rest=True, placeholder=placeholder)


COMMANDS: tuple[Command, ...] = (
    # -- anyone / customers --------------------------------------------------------------
    Command(
        "open",
        Deed.OPEN,
        "open a case (no title: the form)",
        (
            text("title", "A one-line summary (leave empty for the full form)", required=False),
            Param(
                "impact",
                Kind.IMPACT,
                "The business impact (left out: read from the title)",
                required=False,
                option=True,
            ),
        ),
        h.open_,
    ),
    Command("list", Deed.LIST, "your account's cases (staff: the open cases)", (), h.list_, True),
    Command("show", Deed.SHOW, "one case with its timeline", (CASE,), h.show, True),
    Command(
        "reply",
        Deed.REPLY,
        "a message on the case",
        (CASE, text("text", "Your message")),
        h.reply,
    ),
    Command("confirm", Deed.CONFIRM, "accept the proposed resolution", (CASE,), h.confirm),
    Command(
        "reject",
        Deed.REJECT,
        "refuse the proposed resolution",
        (CASE, text("reason", "Why it does not solve the problem")),
        h.reject,
    ),
    Command(
        "escalate",
        Deed.ESCALATE,
        "escalate to your CSM",
        (CASE, text("reason", "Why it needs attention")),
        h.escalate,
    ),
    Command(
        "reopen",
        Deed.REOPEN,
        "reopen a resolved, withdrawn or unresponsive case within the reopen window",
        (CASE, text("reason", "What is still wrong")),
        h.reopen,
    ),
    Command(
        "withdraw",
        Deed.WITHDRAW,
        "close your case yourself (asks first; `yes` to go ahead)",
        (
            CASE,
            Param("confirm", Kind.CHOICE, "Type yes to withdraw", required=False, choices=("yes",)),
        ),
        h.withdraw,
    ),
    Command(
        "follow",
        Deed.FOLLOW,
        "hear about an engineering issue",
        (ISSUE,),
        h.follow,
        section="eng",
    ),
    Command("unfollow", Deed.FOLLOW, "stop following it", (ISSUE,), h.unfollow, section="eng"),
    Command(
        "survey",
        Deed.SURVEY,
        "rate how we handled a case",
        (
            CASE,
            Param("rating", Kind.RATING, "1 very unsatisfied … 5 very satisfied"),
            text("comment", "Anything to add", required=False),
        ),
        h.survey,
    ),
    Command(
        "feedback",
        Deed.FEEDBACK,
        "tell us anything, any time",
        (text("text", "Your feedback"),),
        h.feedback,
    ),
    # -- staff ---------------------------------------------------------------------------
    Command(
        "queue",
        Deed.QUEUE,
        "assigned to me, waiting for triage, waiting on customers",
        (),
        h.queue,
        True,
    ),
    Command("claim", Deed.CLAIM, "take a case", (CASE,), h.claim),
    Command(
        "assign",
        Deed.ASSIGN,
        "give a case to an engineer",
        (CASE, Param("engineer", Kind.PERSON, "Who takes it", placeholder="person")),
        h.assign,
    ),
    Command(
        "area",
        Deed.AREA,
        "correct the product area",
        (CASE, Param("area", Kind.AREA, "The product area")),
        h.area,
        section="triage",
    ),
    Command(
        "severity",
        Deed.SEVERITY,
        "correct the severity",
        (
            CASE,
            Param(
                "level", Kind.CHOICE, "S1 (highest) … S4", choices=SEVERITIES, placeholder="S1-S4"
            ),
        ),
        h.severity,
        section="triage",
    ),
    Command("replicating", Deed.REPLICATING, "start replication", (CASE,), h.replicating),
    Command(
        "need-info",
        Deed.NEED_INFO,
        "ask the customer; starts the chase",
        (CASE, text("question", "What you need to know")),
        h.need_info,
    ),
    Command(
        "propose",
        Deed.PROPOSE,
        "propose a resolution to confirm",
        (CASE, text("resolution", "The resolution")),
        h.propose,
    ),
    Command(
        "defect",
        Deed.LOG_ENG,
        "log a defect with engineering",
        (CASE, text("title", "The defect")),
        h.defect,
        section="eng",
    ),
    Command(
        "enhancement",
        Deed.LOG_ENG,
        "log an enhancement request",
        (CASE, text("title", "The enhancement")),
        h.enhancement,
        section="eng",
    ),
    Command(
        "link",
        Deed.LINK,
        "link to an existing engineering issue",
        (CASE, LINKED),
        h.link,
        section="eng",
    ),
    Command(
        "note",
        Deed.NOTE,
        "an internal note (never shown to the customer)",
        (CASE, text("text", "The note")),
        h.note,
    ),
    Command(
        "called",
        Deed.CALLED,
        "record a phone call",
        (
            CASE,
            Param(
                "outcome",
                Kind.CHOICE,
                "Did you reach the customer?",
                choices=("reached", "not-reached"),
            ),
            text("note", "What was said", required=False),
        ),
        h.called,
    ),
    Command(
        "duplicate",
        Deed.DUPLICATE,
        "close as a duplicate of another case",
        (CASE, Param("of", Kind.CASE, "The case it duplicates")),
        h.duplicate,
        section="triage",
    ),
    Command("eng list", Deed.ENG, "the ranked engineering backlog", (), h.eng_list, True),
    Command("eng show", Deed.ENG, "one engineering issue", (ISSUE,), h.eng_show, True),
    Command(
        "eng status",
        Deed.ENG,
        "change an engineering issue's status",
        (
            ISSUE,
            Param("status", Kind.CHOICE, "The new status", choices=ENG_STATUSES),
            text("note", "What changed (internal unless public)", required=False),
            Param(
                "public",
                Kind.FLAG,
                "Share the note with the customers of the linked cases",
                required=False,
                option=True,
            ),
        ),
        h.eng_status,
    ),
    Command(
        "kb search",
        Deed.KB,
        "search the knowledge base",
        (text("query", "Words to look for", placeholder="words"),),
        h.kb_search,
        True,
    ),
    Command("kb drafts", Deed.KB, "drafts waiting for review", (), h.kb_drafts, True),
    Command(
        "kb show",
        Deed.KB,
        "an article in full, as customers would read it",
        (Param("draft", Kind.KB, "The article, e.g. KB-7"),),
        h.kb_show,
        True,
    ),
    Command(
        "kb edit",
        Deed.KB,
        "correct one section of a draft before it is published",
        (
            DRAFT,
            Param(
                "section",
                Kind.CHOICE,
                "The section to rewrite",
                choices=SECTIONS,
            ),
            text("text", "The new text of that section"),
        ),
        h.kb_edit,
    ),
    Command("kb publish", Deed.KB, "publish a draft article", (DRAFT,), h.kb_publish),
    Command("kb discard", Deed.KB, "discard a draft article", (DRAFT,), h.kb_discard),
    Command(
        "ack",
        Deed.ACK,
        "acknowledge an escalation",
        (CASE, text("note", "A note for the customer", required=False)),
        h.ack,
    ),
    Command(
        "impact",
        Deed.IMPACT,
        "correct your case's business impact",
        (CASE, Param("impact", Kind.IMPACT, "The business impact")),
        h.impact,
        section="triage",
    ),
    Command(
        "stats",
        Deed.STATS,
        "how support is doing (over 7d, 30d, 90d or from..to)",
        (
            text(
                "period",
                "7d, 30d (the default), 90d or 2026-11-01..2026-11-30",
                required=False,
                placeholder="period",
            ),
        ),
        h.stats,
        True,
        section="reports",
    ),
    Command(
        "dashboard",
        Deed.DASHBOARD,
        "a sign-in link to the web dashboard",
        (),
        h.dashboard,
        True,
        section="reports",
    ),
    Command(
        "transcript",
        Deed.TRANSCRIPT,
        "a link to a case's transcript on the web",
        (CASE,),
        h.transcript,
        True,
        section="reports",
    ),
    # -- what buttons do, typed too ---------------------------------------------------------
    Command(
        "kb accept",
        Deed.ANSWER_KB,
        "a suggested article solved it: the case is resolved",
        (CASE, Param("article", Kind.KB, "The article that solved it")),
        h.kb_accept,
    ),
    Command(
        "kb reject", Deed.ANSWER_KB, "none of the suggested articles helps", (CASE,), h.kb_reject
    ),
    Command(
        "raise", Deed.SEVERITY, "raise the severity one level", (CASE,), h.raise_, section="triage"
    ),
    Command("join", Deed.JOIN, "join the case's threads", (CASE,), h.join, section="triage"),
    Command(
        "accept-email", Deed.ACCEPT_MAIL, "place held mail", HELD, h.accept_email, section="triage"
    ),
    Command(
        "decline-email",
        Deed.ACCEPT_MAIL,
        "drop held mail",
        HELD[:1],
        h.decline_email,
        section="triage",
    ),
    # -- reached by forms only ----------------------------------------------------------------
    Command(
        "comment",
        Deed.SURVEY,
        "a comment on your survey answer",
        (CASE, text("comment", "Anything to add", required=False)),
        h.comment,
        hidden=True,
    ),
    Command("link-all", Deed.LINK, "link look-alikes", LOOK_ALIKES, h.link_all, hidden=True),
)

BY_NAME: dict[str, Command] = {c.name: c for c in COMMANDS}
GROUPS: dict[str, tuple[Command, ...]] = {}
for _c in COMMANDS:
    if _c.group:
        GROUPS[_c.group] = (*GROUPS.get(_c.group, ()), _c)
# A group typed alone runs its default subcommand, if it has one.
GROUP_DEFAULT = {"eng": "eng list"}
ALIASES = {"needinfo": "need-info", "need_info": "need-info", "replicate": "replicating"}
ALIASES |= {"enh": "enhancement", "acknowledge": "ack", "close": "withdraw"}


def find(name: str) -> Command | None:
    return BY_NAME.get(ALIASES.get(name, name))


def visible() -> list[Command]:
    return [c for c in COMMANDS if not c.hidden]
