"""The console platform: one keyboard plays every role, and sees, labelled, what every
party receives. It is a real adapter (it parses input and renders neutral messages),
so tests drive it exactly as a person would.

Input lines:
  as <person>                 act as a configured person (their id)
  /case <subcommand> …        the command set (as on Slack and Discord)
  press <CASE-n> <action>     press a button shown under a message (also: press case:CASE-1:claim)
  say <CASE-n> <text>         write in the case's thread (customer thread for customers,
                              staff thread for staff)
  home                        the person's home view (open cases / queue)
  mail <address> <subject> | <text>
                              a mail to support (with the email platform running)
  advance <duration>          move the fake clock (casebot run --fake-clock, the demo),
                              then fire what is due: advance 2h, advance 1bd
  /cancel                     (in a form) stop without sending anything
  help                        this list
  quit                        leave
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import suppress

from adapters.console import forms
from adapters.console.forms import Ask, Cancelled, answer
from adapters.console.keyboard import Keyboard
from bot.actions import KINDS, PREFIX, action_id, parse
from bot.clock import FakeClock
from bot.config import Config
from bot.durations import parse_duration
from bot.exchange import Context, Prompt, Reply
from bot.lifecycle import STATE_WORDS, State
from bot.messages import Message, TargetKind
from bot.ports import Core, DeliveryContext, PlatformOptions, PlatformRef

PLATFORM = "console"
# A mail written at the console, handed to the email platform: (sender, subject, text).
MailIn = Callable[[str, str, str], Awaitable[None]]

CONSOLE_HELP = __doc__.split("Input lines:\n", 1)[1] if __doc__ else ""


class ConsoleAdapter:
    """Renders every delivered message as labelled plain text."""

    name = "console"

    def __init__(self, config: Config, write: Callable[[str], None]) -> None:
        self.config = config
        self.write = write
        self._ids = itertools.count(1)
        self.delivered: list[tuple[str, Message]] = []

    def _audience(self, message: Message) -> str:
        config = self.config
        target = message.target
        if target.kind == TargetKind.PERSON:
            person = config.person(target.id)
            return f"{person.name if person else target.id} (DM)"
        if target.kind == TargetKind.TEAM:
            team = config.team(target.id)
            return f"#{target.id} ({team.name if team else 'team channel'})"
        if target.kind == TargetKind.CASE_CUSTOMER:
            return f"{target.id} customer thread"
        return f"{target.id} staff thread"

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None:
        label = self._audience(message)
        verb = "updated" if message.update and ctx.previous else "to"
        lines = [f"── {verb} {label} ──", message.title]
        if message.text:
            lines += [f"  {line}" for line in message.text.splitlines()]
        lines += [f"  {f.label}: {f.value}".replace("\n", "\n    ") for f in message.fields]
        if message.actions:
            lines.append(
                "  buttons: "
                + "  ".join(f"[{a.label}: press {_press_hint(a.id)}]" for a in message.actions)
            )
        self.write("\n".join(lines))
        self.delivered.append((label, message))
        if message.update and ctx.previous:
            return ctx.previous
        mid = str(next(self._ids))
        key = message.case_key or ""
        if message.target.kind == TargetKind.CASE_CUSTOMER:
            return PlatformRef("console", mid, f"{key}:customer")
        if message.target.kind == TargetKind.TEAM and message.case_key:
            return PlatformRef("console", mid, f"{key}:staff")
        return PlatformRef("console", mid, None)


def _press_hint(text: str) -> str:
    """How to type a button: ``press CASE-1 rate:5``."""
    a = parse(text)
    if a is None:
        return text
    return f"{a.key} {a.action}" + (f":{a.arg}" if a.arg else "")


class ConsoleSession:
    """Reads console lines and plays them against the core."""

    def __init__(
        self,
        core: Core,
        write: Callable[[str], None],
        ask: Ask | None = None,
        fake_clock: FakeClock | None = None,
        settle: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.core = core
        self.write = write
        self.settle = settle
        self.ask = ask
        self.fake_clock = fake_clock
        self.me: str | None = None
        self.mail_in: MailIn | None = None
        # Event ids must be new across sessions too: a demo restarted on the same
        # database would otherwise have its first commands taken for re-deliveries.
        self._session = uuid.uuid4().hex[:8]
        self._event = itertools.count(1)

    def ctx(self, thread: str | None = None) -> Context:
        assert self.me is not None
        person = self.core.config.person(self.me)
        return Context(
            platform="console",
            user_id=self.me,
            channel_id="console",
            thread_id=thread,
            user_name=person.name if person else self.me,
            event_id=f"console-{self._session}-{next(self._event)}",
        )

    async def handle(self, line: str) -> bool:
        """Handle one line; returns False when the person wants to leave."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        word, _, rest = line.partition(" ")
        word = word.lower()
        if word in ("quit", "exit"):
            return False
        if word == "help":
            self.write(CONSOLE_HELP.rstrip())
            return True
        if word == "as":
            return self._as(rest.strip())
        if word == "advance":
            await self._advance(rest.strip())
            return True
        if word == "mail":
            await self._mail(rest.strip())
            return True
        if self.me is None:
            self.write(
                "Say who you are first: `as <person>` "
                f"({', '.join(p.id for p in self.core.config.people)})."
            )
            return True
        if word == "/case" or line == "/case":
            reply = await self.core.run(self.ctx(), rest)
        elif word == "press":
            reply = await self._press(rest.strip())
        elif word == "say":
            key, _, text = rest.strip().partition(" ")
            reply = await self._say(key, text)
        elif word == "home":
            view = await self.core.home(self.ctx())
            out = [view.title]
            for title, items in view.sections:
                out.append(f"  {title} ({len(items)})")
                out += [
                    f"    {c.key} [{c.severity}] {c.title} — {STATE_WORDS[State(c.state)]}"
                    + (f" · {c.time_left}" if c.time_left else "")
                    for c in items
                ]
            self.write("\n".join(out))
            return True
        else:
            self.write(f"I don't understand '{word}'. Type `help`.")
            return True
        await self._show_reply(reply)
        await self._settle()
        return True

    async def _settle(self) -> None:
        if self.settle is not None:
            await self.settle()

    def _as(self, who: str) -> bool:
        person = self.core.config.person(who)
        if person is None:
            self.write(
                f"There is no person '{who}' in the configuration "
                f"({', '.join(p.id for p in self.core.config.people)})."
            )
            return True
        self.me = person.id
        self.write(f"You are now {person.name} ({person.role}).")
        return True

    async def _advance(self, text: str) -> None:
        if self.fake_clock is None:
            self.write(
                "The clock only moves by itself here (advance works in the demo and with "
                "`casebot run --fake-clock`)."
            )
            return
        try:
            d = parse_duration(text)
        except ValueError as exc:
            self.write(str(exc))
            return
        target = d.after(self.fake_clock.now(), self.core.config.support.tz)
        self.fake_clock.set(target)
        self.write(f"(the clock moves {d}: it is now {target:%a %Y-%m-%d %H:%M} UTC)")
        await self._settle()

    async def _mail(self, rest: str) -> None:
        sender, _, more = rest.partition(" ")
        subject, bar, text = more.partition("|")
        if self.mail_in is None:
            self.write(
                "Mail needs the email platform: `casebot run --platform console --platform email`."
            )
        elif "@" not in sender or not bar or not subject.strip():
            self.write("Usage: mail <address> <subject> | <text>")
        else:
            await self.mail_in(sender, subject.strip(), text.strip())
            await self._settle()

    async def _press(self, rest: str) -> Reply:
        parts = rest.split()
        if len(parts) == 1 and parts[0].count(":") >= 2:
            pressed = parts[0]
        elif len(parts) >= 2:
            key = parts[0].upper()
            kind = next((k for k in KINDS if key.startswith(PREFIX[k] + "-")), "case")
            action, _, arg = parts[1].partition(":")
            pressed = action_id(kind, key, action, arg or None)
        else:
            return Reply.refuse("Usage: press CASE-n <action> (as shown under a message).")
        value = " ".join(parts[2:]) or None
        return await self.core.press(self.ctx(), pressed, value)

    async def _say(self, key: str, text: str) -> Reply:
        if not key or not text.strip():
            return Reply.refuse("Usage: say CASE-n <text>")
        person = self.core.config.person(self.me or "")
        purpose = "customer" if person and person.role == "customer" else "staff"
        reply = await self.core.thread_message(self.ctx(thread=f"{key.upper()}:{purpose}"), text)
        return reply or Reply.refuse(f"There is no {key.upper()} thread here yet.")

    async def _show_reply(self, reply: Reply) -> None:
        if reply.prompt is not None:
            optional = all(not f.required for f in reply.prompt.fields)
            if self.ask is None and optional:
                reply.prompt = None  # e.g. the survey comment: nobody to ask, nothing lost
            else:
                reply = await self._fill(reply.prompt, reply)
        if reply.text:
            mark = "" if reply.ok else "✗ "
            self.write(
                f"({'only you see this' if not reply.public else 'reply'}) {mark}{reply.text}"
            )

    async def _fill(self, prompt: Prompt, before: Reply) -> Reply:
        if self.ask is None:
            return Reply.refuse(
                f"{prompt.title}: this needs a form; use the /case command "
                "with its arguments instead."
            )
        if before.text:
            self.write(before.text)
        try:
            values = await forms.fill(prompt, self.ask, self.write)
            reply = await self.core.submit(self.ctx(), prompt.form_id, values)
            while reply.errors:
                await forms.correct(prompt, values, reply.errors, self.ask, self.write)
                reply = await self.core.submit(self.ctx(), prompt.form_id, values)
        except Cancelled:
            return Reply(text=f"{prompt.title}: cancelled, nothing was sent.")
        return reply


class ConsolePlatform:
    """The console as a :class:`~bot.ports.Platform`: messages out are printed, lines in
    are read from ``ask`` (interactive) or handed to :attr:`session` (the demo, tests)."""

    name = PLATFORM

    def __init__(
        self,
        write: Callable[[str], None] = print,
        ask: Ask | None = None,
        *,
        interactive: bool = False,
        fake_clock: FakeClock | None = None,
        settle: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.write = write
        self.ask: Ask | None = ask
        self.interactive = interactive
        self.fake_clock = fake_clock
        self._settle = settle
        self.output: ConsoleAdapter | None = None
        self.session: ConsoleSession | None = None
        self.mail_in: MailIn | None = None  # set by the entry point when email runs too
        self._done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, core: Core) -> None:
        self.output = ConsoleAdapter(core.config, self.write)
        self.session = ConsoleSession(core, self.write, self.ask, self.fake_clock, self._settle)
        self.session.mail_in = self.mail_in
        if self.interactive:
            self._task = asyncio.create_task(self._repl(core.config), name="casebot-console")

    async def _repl(self, config: Config) -> None:
        assert self.session is not None and self.ask is not None
        people = ", ".join(f"{p.id} ({p.role})" for p in config.people)
        self.write(
            f"casebot console — {config.support.name}\nPeople: {people}\n"
            "Type `as <person>`, then `/case help`. `help` lists console commands; "
            "`quit` or Ctrl-C leaves."
        )
        if self.fake_clock is not None:
            self.write(fake_clock_banner(self.fake_clock))
        try:
            while True:
                prompt = f"{self.session.me or '?'}> "
                try:
                    line = await answer(self.ask, prompt)
                except EOFError:
                    break
                if not await self.session.handle(line):
                    break
        finally:
            self._done.set()

    def connect_mail(self, mail_in: MailIn) -> None:
        """Let ``mail …`` lines reach the email platform running in the same process."""
        self.mail_in = mail_in
        if self.session is not None:
            self.session.mail_in = mail_in

    async def finished(self) -> None:
        await self._done.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError, Exception):
                await self._task
        self._done.set()

    async def deliver(self, message: Message, ctx: DeliveryContext) -> PlatformRef | None:
        assert self.output is not None, "the console delivers once started"
        return await self.output.deliver(message, ctx)


def configured(env: Mapping[str, str]) -> bool:
    """The console needs no credentials; it runs when asked or when nothing else is set."""
    return False


def fake_clock_banner(clock: FakeClock) -> str:
    return (
        f"*** FAKE CLOCK: it is {clock.now():%a %Y-%m-%d %H:%M} UTC and time stands still; "
        "`advance 2h` (or 30m, 1bd…) moves it and fires what is due: chases, phone "
        "tasks, SLA warnings and breaches, escalation follow-ups. ***"
    )


def from_env(env: Mapping[str, str], options: PlatformOptions) -> ConsolePlatform:
    clock = options.clock if isinstance(options.clock, FakeClock) else None
    return ConsolePlatform(
        print,
        Keyboard().ask,
        interactive=options.receive,
        fake_clock=clock,
        settle=options.settle,
    )
