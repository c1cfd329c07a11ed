"""The ``/case`` command group: the core's command set as Discord slash commands.

Each subcommand turns its options back into the core's text form (``/case claim
case:CASE-3`` → ``claim CASE-3``) and hands it to ``CaseCommands.run``: one parser, one
set of rules, on every platform. Who may do what is the core's call, so every member
sees every subcommand and a refused one answers with the core's polite refusal.

Discord allows 25 options on a command, and the command set has more, so three groups
gather related subcommands: ``/case eng …`` (engineering issues: list, show, status,
follow, unfollow, defect, enhancement, link), ``/case kb …`` and ``/case triage …``
(area, severity, duplicate). The text they produce is the core's usual one
(``/case eng follow issue:ENG-1`` → ``follow ENG-1``).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import discord
from discord import app_commands

from adapters.discord import text as t
from bot.config import SEVERITIES


class CaseHandler(Protocol):
    async def command(self, interaction: discord.Interaction[Any], text: str) -> None: ...

    async def autocomplete(
        self, interaction: discord.Interaction[Any], current: str
    ) -> list[app_commands.Choice[str]]: ...

    def area_choices(self, current: str) -> list[app_commands.Choice[str]]: ...


def _handler(interaction: discord.Interaction[Any]) -> CaseHandler:
    return interaction.client.casebot  # type: ignore[attr-defined, no-any-return]


async def _run(interaction: discord.Interaction[Any], *parts: object) -> None:
    words = [str(p).strip() for p in parts if p is not None and str(p).strip()]
    await _handler(interaction).command(interaction, " ".join(words))


def _person(user: discord.abc.User) -> str:
    return f"<@{user.id}>"


async def case_keys(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    return await _handler(interaction).autocomplete(interaction, current)


async def area_keys(
    interaction: discord.Interaction[Any], current: str
) -> list[app_commands.Choice[str]]:
    return _handler(interaction).area_choices(current)


CASE = "The case, e.g. CASE-12"
ISSUE = "The engineering issue, e.g. ENG-3"
Outcome = Literal["reached", "not-reached"]
EngStatus = Literal["open", "in_progress", "fixed", "released", "wont_fix"]
SEVERITY_CHOICES = [app_commands.Choice(name=s, value=s) for s in SEVERITIES]


@app_commands.allowed_installs(guilds=True, users=False)
@app_commands.allowed_contexts(guilds=True, dms=True, private_channels=False)
class CaseGroup(
    app_commands.Group, name="case", description="Support cases: open, follow and work them"
):
    # -- anyone / customers ------------------------------------------------------------

    @app_commands.command(name="help", description="What you can do with /case")
    async def help_(self, interaction: discord.Interaction[Any]) -> None:
        await _run(interaction, "help")

    @app_commands.command(name="open", description="Open a case (no title: a form)")
    @app_commands.describe(title="A one-line summary (leave empty for the full form)")
    async def open_(self, interaction: discord.Interaction[Any], title: str | None = None) -> None:
        if title and title.strip():
            await _run(interaction, "open", title)
        else:
            await _run(interaction)  # "": the core answers with the open-case form

    @app_commands.command(name="list", description="Your account's cases")
    async def list_(self, interaction: discord.Interaction[Any]) -> None:
        await _run(interaction, "list")

    @app_commands.command(name="show", description="One case with its timeline")
    @app_commands.describe(case=CASE)
    @app_commands.autocomplete(case=case_keys)
    async def show(self, interaction: discord.Interaction[Any], case: str) -> None:
        await _run(interaction, "show", case)

    @app_commands.command(
        name="reply", description="Write on a case (answers a question from support)"
    )
    @app_commands.describe(case=CASE, text="Your message")
    @app_commands.autocomplete(case=case_keys)
    async def reply(self, interaction: discord.Interaction[Any], case: str, text: str) -> None:
        await _run(interaction, "reply", case, text)

    @app_commands.command(name="confirm", description="Confirm the proposed resolution")
    @app_commands.describe(case=CASE)
    @app_commands.autocomplete(case=case_keys)
    async def confirm(self, interaction: discord.Interaction[Any], case: str) -> None:
        await _run(interaction, "confirm", case)

    @app_commands.command(name="reject", description="Reject the proposed resolution")
    @app_commands.describe(case=CASE, reason="Why it does not solve the problem")
    @app_commands.autocomplete(case=case_keys)
    async def reject(self, interaction: discord.Interaction[Any], case: str, reason: str) -> None:
        await _run(interaction, "reject", case, reason)

    @app_commands.command(name="escalate", description="Escalate a case to your account's CSM")
    @app_commands.describe(case=CASE, reason="Why it needs attention")
    @app_commands.autocomplete(case=case_keys)
    async def escalate(self, interaction: discord.Interaction[Any], case: str, reason: str) -> None:
        await _run(interaction, "escalate", case, reason)

    @app_commands.command(name="reopen", description="Reopen a resolved case")
    @app_commands.describe(case=CASE, reason="What is still wrong")
    @app_commands.autocomplete(case=case_keys)
    async def reopen(self, interaction: discord.Interaction[Any], case: str, reason: str) -> None:
        await _run(interaction, "reopen", case, reason)

    @app_commands.command(name="withdraw", description="Close your case yourself")
    @app_commands.describe(case=CASE)
    @app_commands.autocomplete(case=case_keys)
    async def withdraw(self, interaction: discord.Interaction[Any], case: str) -> None:
        await _run(interaction, "withdraw", case)

    @app_commands.command(name="survey", description="Rate how a closed case was handled")
    @app_commands.describe(
        case=CASE, rating="1 very unsatisfied … 5 very satisfied", comment="Anything to add"
    )
    @app_commands.autocomplete(case=case_keys)
    async def survey(
        self,
        interaction: discord.Interaction[Any],
        case: str,
        rating: app_commands.Range[int, 1, 5],
        comment: str | None = None,
    ) -> None:
        await _run(interaction, "survey", case, rating, comment)

    @app_commands.command(name="feedback", description="Tell us anything, any time")
    @app_commands.describe(text="Your feedback")
    async def feedback(self, interaction: discord.Interaction[Any], text: str) -> None:
        await _run(interaction, "feedback", text)

    # -- engineers, CSMs, the lead ---------------------------------------------------------

    @app_commands.command(
        name="queue", description="Your cases, triage and cases waiting on customers"
    )
    async def queue(self, interaction: discord.Interaction[Any]) -> None:
        await _run(interaction, "queue")

    @app_commands.command(name="claim", description="Take a case")
    @app_commands.describe(case=CASE)
    @app_commands.autocomplete(case=case_keys)
    async def claim(self, interaction: discord.Interaction[Any], case: str) -> None:
        await _run(interaction, "claim", case)

    @app_commands.command(name="assign", description="Give a case to an engineer")
    @app_commands.describe(case=CASE, engineer="Who takes it")
    @app_commands.autocomplete(case=case_keys)
    async def assign(
        self, interaction: discord.Interaction[Any], case: str, engineer: discord.User
    ) -> None:
        await _run(interaction, "assign", case, _person(engineer))

    @app_commands.command(name="replicating", description="Start replicating a case")
    @app_commands.describe(case=CASE)
    @app_commands.autocomplete(case=case_keys)
    async def replicating(self, interaction: discord.Interaction[Any], case: str) -> None:
        await _run(interaction, "replicating", case)

    @app_commands.command(name="need-info", description="Ask the customer for information")
    @app_commands.describe(case=CASE, question="What you need to know")
    @app_commands.autocomplete(case=case_keys)
    async def need_info(
        self, interaction: discord.Interaction[Any], case: str, question: str
    ) -> None:
        await _run(interaction, "need-info", case, question)

    @app_commands.command(
        name="propose", description="Propose a resolution for the customer to confirm"
    )
    @app_commands.describe(case=CASE, resolution="The resolution")
    @app_commands.autocomplete(case=case_keys)
    async def propose(
        self, interaction: discord.Interaction[Any], case: str, resolution: str
    ) -> None:
        await _run(interaction, "propose", case, resolution)

    @app_commands.command(name="note", description="An internal note (never shown to the customer)")
    @app_commands.describe(case=CASE, text="The note")
    @app_commands.autocomplete(case=case_keys)
    async def note(self, interaction: discord.Interaction[Any], case: str, text: str) -> None:
        await _run(interaction, "note", case, text)

    @app_commands.command(name="called", description="Record the outcome of a phone-call task")
    @app_commands.describe(case=CASE, outcome="Did you reach the customer?", note="What was said")
    @app_commands.autocomplete(case=case_keys)
    async def called(
        self,
        interaction: discord.Interaction[Any],
        case: str,
        outcome: Outcome,
        note: str | None = None,
    ) -> None:
        await _run(interaction, "called", case, outcome, note)

    @app_commands.command(name="ack", description="Acknowledge an escalation")
    @app_commands.describe(case=CASE, note="A note for the customer")
    @app_commands.autocomplete(case=case_keys)
    async def ack(
        self, interaction: discord.Interaction[Any], case: str, note: str | None = None
    ) -> None:
        await _run(interaction, "ack", case, note)

    @app_commands.command(name="stats", description="Support statistics (lead)")
    async def stats(self, interaction: discord.Interaction[Any]) -> None:
        await _run(interaction, "stats")

    # -- /case triage … -------------------------------------------------------------------

    triage = app_commands.Group(name="triage", description="Correct a case's triage")

    @triage.command(name="area", description="Change a case's product area")
    @app_commands.describe(case=CASE, area="The product area")
    @app_commands.autocomplete(case=case_keys, area=area_keys)
    async def area(self, interaction: discord.Interaction[Any], case: str, area: str) -> None:
        await _run(interaction, "area", case, area)

    @triage.command(name="severity", description="Change a case's severity")
    @app_commands.describe(case=CASE, level="S1 (highest) … S4")
    @app_commands.autocomplete(case=case_keys)
    @app_commands.choices(level=SEVERITY_CHOICES)
    async def severity(self, interaction: discord.Interaction[Any], case: str, level: str) -> None:
        await _run(interaction, "severity", case, level)

    @triage.command(name="duplicate", description="Close a case as a duplicate of another")
    @app_commands.describe(case=CASE, of="The case it duplicates")
    @app_commands.autocomplete(case=case_keys, of=case_keys)
    async def duplicate(self, interaction: discord.Interaction[Any], case: str, of: str) -> None:
        await _run(interaction, "duplicate", case, of)

    # -- /case eng … ---------------------------------------------------------------------

    eng = app_commands.Group(name="eng", description="Engineering issues (ENG-n)")

    @eng.command(name="list", description="The ranked engineering backlog")
    async def eng_list(self, interaction: discord.Interaction[Any]) -> None:
        await _run(interaction, "eng list")

    @eng.command(name="show", description="One engineering issue")
    @app_commands.describe(issue=ISSUE)
    async def eng_show(self, interaction: discord.Interaction[Any], issue: str) -> None:
        await _run(interaction, "eng show", issue)

    @eng.command(name="status", description="Change an engineering issue's status")
    @app_commands.describe(issue=ISSUE, status="The new status", note="What changed")
    async def eng_status(
        self,
        interaction: discord.Interaction[Any],
        issue: str,
        status: EngStatus,
        note: str | None = None,
    ) -> None:
        await _run(interaction, "eng status", issue, status, note)

    @eng.command(name="follow", description="Be told about every change of an engineering issue")
    @app_commands.describe(issue=ISSUE)
    async def follow(self, interaction: discord.Interaction[Any], issue: str) -> None:
        await _run(interaction, "follow", issue)

    @eng.command(name="unfollow", description="Stop following an engineering issue")
    @app_commands.describe(issue=ISSUE)
    async def unfollow(self, interaction: discord.Interaction[Any], issue: str) -> None:
        await _run(interaction, "unfollow", issue)

    @eng.command(name="defect", description="Log a new defect linked to a case")
    @app_commands.describe(case=CASE, title="The defect")
    @app_commands.autocomplete(case=case_keys)
    async def defect(self, interaction: discord.Interaction[Any], case: str, title: str) -> None:
        await _run(interaction, "defect", case, title)

    @eng.command(name="enhancement", description="Log a new enhancement request linked to a case")
    @app_commands.describe(case=CASE, title="The enhancement")
    @app_commands.autocomplete(case=case_keys)
    async def enhancement(
        self, interaction: discord.Interaction[Any], case: str, title: str
    ) -> None:
        await _run(interaction, "enhancement", case, title)

    @eng.command(name="link", description="Link a case to an existing engineering issue")
    @app_commands.describe(case=CASE, issue=ISSUE)
    @app_commands.autocomplete(case=case_keys)
    async def link(self, interaction: discord.Interaction[Any], case: str, issue: str) -> None:
        await _run(interaction, "link", case, issue)

    # -- /case kb … ----------------------------------------------------------------------

    kb = app_commands.Group(name="kb", description="The knowledge base")

    @kb.command(name="search", description="Search the knowledge base")
    @app_commands.describe(query="Words to look for")
    async def kb_search(self, interaction: discord.Interaction[Any], query: str) -> None:
        await _run(interaction, "kb search", query)

    @kb.command(name="publish", description="Publish a draft article")
    @app_commands.describe(draft="The draft, e.g. KB-7")
    async def kb_publish(self, interaction: discord.Interaction[Any], draft: str) -> None:
        await _run(interaction, "kb publish", draft)

    @kb.command(name="discard", description="Discard a draft article")
    @app_commands.describe(draft="The draft, e.g. KB-7")
    async def kb_discard(self, interaction: discord.Interaction[Any], draft: str) -> None:
        await _run(interaction, "kb discard", draft)

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError
    ) -> None:
        """Option conversion failed before the core saw anything: say so, privately."""
        message = t.clip_escaped(f"That did not work: {error}", t.CONTENT_LIMIT)
        try:
            if not interaction.response.is_done():
                await interaction.response.send_message(
                    message, ephemeral=True, allowed_mentions=t.no_pings()
                )
        except discord.HTTPException:
            pass


def command_payload(tree: app_commands.CommandTree[Any]) -> list[dict[str, Any]]:
    """What Discord is told about the commands (the body of the bulk overwrite)."""
    return [command.to_dict(tree) for command in tree.get_commands()]
