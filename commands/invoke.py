"""The command layer as adapters see it (:class:`bot.ports.Core`): every door a request
comes through — typed text, a Discord option, a button, a form, a message in a case
thread — ends in :meth:`CaseCommands.invoke` with typed arguments, inside one unit of
work, and answers with a :class:`~bot.exchange.Reply`. Nothing here turns structured
input back into text, queries the database or decides who may do what."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import structlog

from bot import cases, policy, views
from bot.actions import ActionId
from bot.actions import parse as parse_action
from bot.actors import Actor
from bot.config import Config
from bot.errors import Duplicate, Refusal
from bot.exchange import Context, HomeView, Prompt, Reply
from bot.identity import actor_for
from bot.policy import Deed
from bot.units import Units
from bot.work import Work
from commands import buttons, forms
from commands.params import Kind, clean
from commands.parse import parse
from commands.table import BY_NAME, Command, find, visible

log = structlog.get_logger(__name__)

OOPS = (
    "Something went wrong on our side and nothing was changed. Please try again; if it "
    "keeps happening, tell your support contact."
)


OPEN = BY_NAME["open"]


def not_for_you(command: Command, sectioned: bool = False) -> str:
    words = command.group or command.path(sectioned)
    return f"`/case {words}` is not for you. Try `/case help`."


class CaseCommands:
    """What adapters call (see docs/adapters.md)."""

    def __init__(self, units: Units) -> None:
        self.units = units

    @property
    def config(self) -> Config:
        return self.units.config

    # -- one unit of work per request ---------------------------------------------------

    async def execute(
        self,
        ctx: Context,
        fn: Callable[[Work, Actor], Awaitable[str]],
        *,
        mutating: bool = True,
        case_key: str | None = None,
        also: Sequence[str] = (),
    ) -> Reply:
        # Every log line of the request carries its case and platform event (if any).
        with structlog.contextvars.bound_contextvars(
            case=case_key, event=ctx.event_id, platform=ctx.platform
        ):
            return await self._execute(ctx, fn, mutating, case_key, also)

    async def _execute(
        self,
        ctx: Context,
        fn: Callable[[Work, Actor], Awaitable[str]],
        mutating: bool,
        case_key: str | None,
        also: Sequence[str],
    ) -> Reply:
        try:
            async with self.units.work(
                ctx.event_id if mutating else None,
                case_key=case_key if mutating else None,
                case_keys=also if mutating else (),
                origin_channel=ctx.channel_id,
            ) as w:
                actor = await actor_for(w.session, w.config, ctx)
                text = await fn(w, actor)
                w.answered(text)
            return Reply(text=text, case_key=case_key)
        except Duplicate:
            return Reply(text="Already done.", duplicate=True, case_key=case_key)
        except Refusal as r:
            return Reply.refuse(r.message, errors=r.errors, case_key=case_key)
        except Exception:  # noqa: BLE001 - a bug must not take the platform connection down
            log.exception("command.failed", platform=ctx.platform, user=ctx.user_id)
            return Reply.refuse(OOPS, case_key=case_key)

    # -- doors ---------------------------------------------------------------------------

    async def run(self, ctx: Context, text: str) -> Reply:
        """``/case <text>``."""
        text = clean(text)
        if not text.strip():
            return await self.open_prompt(ctx)
        if text.strip().lower() == "help":
            return await self.help(ctx)
        try:
            parsed = parse(text)
        except Refusal as r:
            return Reply.refuse(r.message)
        return await self.call(ctx, parsed.command, parsed.values)

    async def invoke(self, ctx: Context, name: str, args: Mapping[str, Any]) -> Reply:
        """A subcommand by name with its arguments (typed, or as text)."""
        if name == "help":
            return await self.help(ctx)
        command = find(name)
        if command is None:
            return Reply.refuse(f"I don't know `/case {name}`. Try `/case help`.")
        return await self.call(ctx, command, args)

    async def call(
        self, ctx: Context, command: Command, args: Mapping[str, Any], *, form: bool = False
    ) -> Reply:
        if not form and opens_form(command.name, args):
            return await self.open_prompt(ctx)
        key = views.lenient_case_key(args.get("case"))
        # Every case the command names is held, in one order (duplicate names two).
        others = [
            k
            for p in command.params
            if p.kind == Kind.CASE and p.name != "case"
            if (k := views.lenient_case_key(args.get(p.name)))
        ]

        async def go(w: Work, a: Actor) -> str:
            if not policy.role_may(a.role, command.deed):
                raise Refusal(
                    (policy.refusal(a, command.deed) or not_for_you(command, ctx.sectioned))
                    if command.hidden
                    else not_for_you(command, ctx.sectioned)
                )
            return await command.handler(w, a, self.typed(command, args, ctx))

        return await self.execute(
            ctx, go, mutating=not command.reads_only, case_key=key, also=others
        )

    def typed(self, command: Command, args: Mapping[str, Any], ctx: Context) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for p in command.params:
            value = args.get(p.name)
            if p.required and not p.rest and (value is None or str(value).strip() == ""):
                raise Refusal(f"Usage: `/case {command.usage_as(ctx.sectioned)}`")
            try:
                out[p.name] = p.coerce(value, self.config, ctx.platform)
            except ValueError:
                raise Refusal(
                    f"The {p.name} is a number from 1 to 5: "
                    f"`/case {command.usage_as(ctx.sectioned)}`."
                    if p.kind == Kind.RATING
                    else f"Usage: `/case {command.usage_as(ctx.sectioned)}`"
                ) from None
        # Fields a form adds beyond the typed grammar (the open form's area, type…).
        for name, value in args.items():
            out.setdefault(name, value)
        return out

    async def press(self, ctx: Context, action_id: str, value: str | None = None) -> Reply:
        """A button: ``case:CASE-3:claim`` does what ``/case claim CASE-3`` does; a
        button that needs more (a reason, a person) shows its form first, to people
        who may submit it."""
        action = parse_action(action_id)
        meant = buttons.meaning(action, value) if action else None
        if action is None or meant is None:
            return Reply.refuse(buttons.NOT_MINE)
        all_forms = forms.case_forms(self.config)
        if meant.form:
            form = all_forms[meant.form]
            if value:  # a select menu answered in place
                return await self.submit(
                    ctx, f"{meant.form}:{action.key}", {form.fields[0].name: value}
                )
            refused = await self.probe(ctx, action)
            if refused is not None:
                return refused
            return Reply(
                text="", prompt=forms.prompt_for(form, meant.form, action.key), case_key=action.key
            )
        reply = await self.invoke(ctx, meant.command, meant.args or {})
        if meant.then_ask and reply.ok and not reply.duplicate:
            reply.prompt = forms.prompt_for(all_forms[meant.then_ask], meant.then_ask, action.key)
        return reply

    async def probe(self, ctx: Context, action: ActionId) -> Reply | None:
        """A dry run of the policy table for a button's form: None when the person may
        submit it, else the refusal they would get."""
        deed = action.deed
        if deed is None:
            return Reply.refuse(buttons.NOT_MINE)

        async def check(w: Work, a: Actor) -> str:
            w.require(a, deed, await w.case(action.key, lock=False))
            return ""

        reply = await self.execute(ctx, check, mutating=False)
        return None if reply.ok else reply

    async def submit(self, ctx: Context, form_id: str, values: Mapping[str, str]) -> Reply:
        """A submitted form: its answers are the arguments of its command."""
        values = {k: clean(v or "") for k, v in values.items()}
        if form_id == "open":
            args = {k: v.strip() for k, v in values.items()}
            return await self.call(ctx, OPEN, args, form=True)
        kind, _, key = form_id.partition(":")
        form = forms.case_forms(self.config).get(kind)
        if form is None or not key:
            return Reply.refuse("That form is not one of mine.")
        answers = forms.answers(form, key, values)
        if form.command == "comment" and not answers.get("comment"):
            return Reply(text="Thanks!")
        return await self.invoke(ctx, form.command, answers)

    async def thread_message(self, ctx: Context, text: str) -> Reply | None:
        """A plain message: if it was written in a case conversation, it is a customer
        reply (from the customer's side) or what staff say there."""
        text = clean(text)
        if not text.strip():
            return None
        try:
            async with self.units.work() as w:
                found = await views.conversation_at(w, ctx.platform, ctx.channel_id, ctx.thread_id)
        except Exception:  # noqa: BLE001
            log.exception("thread_message.lookup_failed", platform=ctx.platform)
            return None
        if found is None:
            return None
        key, purpose = found
        return await self.execute(
            ctx, lambda w, a: cases.thread_reply(w, a, key, text, purpose), case_key=key
        )

    async def autocomplete(self, ctx: Context, prefix: str) -> list[tuple[str, str]]:
        try:
            async with self.units.work() as w:
                a = await actor_for(w.session, w.config, ctx)
                return await views.case_choices(w, a, prefix)
        except Refusal:
            return []

    async def home(self, ctx: Context) -> HomeView:
        try:
            async with self.units.work() as w:
                return await views.home(w, await actor_for(w.session, w.config, ctx))
        except Refusal as r:
            return HomeView(title=r.message, known=False)

    def open_form(self) -> Prompt:
        return forms.open_form(self.config)

    async def open_prompt(self, ctx: Context) -> Reply:
        async def check(w: Work, a: Actor) -> str:
            if not policy.role_may(a.role, Deed.OPEN):
                raise Refusal("Cases are opened by customers. Try `/case help`.")
            return ""

        reply = await self.execute(ctx, check, mutating=False)
        if not reply.ok:
            return reply
        return Reply(text="Tell us about the problem.", prompt=self.open_form())

    async def help(self, ctx: Context) -> Reply:
        """``/case help``: what this person may do, written as their platform types it
        (the command table's words; Discord's sections, and no bare ``/case`` there)."""

        async def lines(w: Work, a: Actor) -> str:
            return help_text(a, ctx.sectioned)

        return await self.execute(ctx, lines, mutating=False)


def opens_form(name: str, args: Mapping[str, Any]) -> bool:
    """Whether the subcommand ``name`` with ``args`` answers with the open form rather
    than doing anything (``open`` without a title). A platform whose forms can only be
    the first answer (Discord's modals) asks this before it defers."""
    return name == "open" and not str(args.get("title") or "").strip()


def help_text(a: Actor, sectioned: bool = False) -> str:
    lines = [f"What you can do, {a.name} ({a.role}):", "`/case help` — this list"]
    if policy.role_may(a.role, Deed.OPEN) and not sectioned:
        lines.append("`/case` — open a case with a form")
    lines += [
        f"`/case {c.usage_as(sectioned)}` — {c.does}"
        for c in visible()
        if policy.role_may(a.role, c.deed)
    ]
    return "\n".join(lines)
