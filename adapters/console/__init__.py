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
  advance <duration>          move the fake clock (demo and tests only), then run due work
  help                        this list
  quit                        leave
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.durations import parse_duration
from bot.lifecycle import STATE_WORDS, State
from bot.messages import Message, TargetKind
from bot.ports import DeliveryContext, PlatformRef
from commands.api import Context, Prompt, Reply

if TYPE_CHECKING:
    from bot.app import Casebot

CONSOLE_HELP = __doc__.split("Input lines:\n", 1)[1] if __doc__ else ""


class ConsoleAdapter:
    """Renders every delivered message as labelled plain text."""

    name = "console"

    def __init__(self, bot: Casebot, write: Callable[[str], None]) -> None:
        self.bot = bot
        self.write = write
        self._ids = itertools.count(1)
        self.delivered: list[tuple[str, Message]] = []

    def _audience(self, message: Message) -> str:
        config = self.bot.config
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


def _press_hint(action_id: str) -> str:
    kind, key, rest = action_id.split(":", 2)
    return f"{key} {rest}" if kind == "case" else f"{key} {rest}"


class ConsoleSession:
    """Reads console lines and plays them against the core."""

    def __init__(
        self,
        bot: Casebot,
        write: Callable[[str], None],
        ask: Callable[[str], str] | None = None,
        fake_clock: object | None = None,
    ) -> None:
        self.bot = bot
        self.write = write
        self.ask = ask
        self.fake_clock = fake_clock
        self.me: str | None = None
        # Event ids must be new across sessions too: a demo restarted on the same
        # database would otherwise have its first commands taken for re-deliveries.
        self._session = uuid.uuid4().hex[:8]
        self._event = itertools.count(1)

    def ctx(self, thread: str | None = None) -> Context:
        assert self.me is not None
        person = self.bot.config.person(self.me)
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
        if self.me is None:
            self.write(
                "Say who you are first: `as <person>` "
                f"({', '.join(p.id for p in self.bot.config.people)})."
            )
            return True
        if word == "/case" or line == "/case":
            reply = await self.bot.commands.run(self.ctx(), rest)
        elif word == "press":
            reply = await self._press(rest.strip())
        elif word == "say":
            key, _, text = rest.strip().partition(" ")
            reply = await self._say(key, text)
        elif word == "home":
            view = await self.bot.commands.home(self.ctx())
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
        await self.bot.drain()
        return True

    def _as(self, who: str) -> bool:
        person = self.bot.config.person(who)
        if person is None:
            self.write(
                f"There is no person '{who}' in the configuration "
                f"({', '.join(p.id for p in self.bot.config.people)})."
            )
            return True
        self.me = person.id
        self.write(f"You are now {person.name} ({person.role}).")
        return True

    async def _advance(self, text: str) -> None:
        if self.fake_clock is None or not hasattr(self.fake_clock, "advance"):
            self.write("The clock only moves by itself here (advance works in the demo).")
            return
        try:
            d = parse_duration(text)
        except ValueError as exc:
            self.write(str(exc))
            return
        now = self.fake_clock.now()  # type: ignore[attr-defined]
        target = d.after(now, self.bot.config.support.tz)
        self.fake_clock.set(target)  # type: ignore[attr-defined]
        self.write(f"(the clock moves {d}: it is now {target:%a %Y-%m-%d %H:%M} UTC)")
        await self.bot.drain()

    async def _press(self, rest: str) -> Reply:
        parts = rest.split()
        if len(parts) == 1 and parts[0].count(":") >= 2:
            action_id = parts[0]
        elif len(parts) >= 2:
            key = parts[0].upper()
            kind = "eng" if key.startswith("ENG-") else "kb" if key.startswith("KB-") else "case"
            action_id = f"{kind}:{key}:{parts[1]}"
        else:
            return Reply.refuse("Usage: press CASE-n <action> (as shown under a message).")
        value = " ".join(parts[2:]) or None
        return await self.bot.commands.press(self.ctx(), action_id, value)

    async def _say(self, key: str, text: str) -> Reply:
        if not key or not text.strip():
            return Reply.refuse("Usage: say CASE-n <text>")
        person = self.bot.config.person(self.me or "")
        purpose = "customer" if person and person.role == "customer" else "staff"
        reply = await self.bot.commands.thread_message(
            self.ctx(thread=f"{key.upper()}:{purpose}"), text
        )
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
        values: dict[str, str] = {}
        self.write(f"[{prompt.title}]")
        for field in prompt.fields:
            hint = ""
            if field.options:
                hint = " (" + ", ".join(o.value for o in field.options) + ")"
            optional = "" if field.required or "optional" in field.label else " [optional]"
            values[field.name] = self.ask(f"  {field.label}{hint}{optional}: ")
        reply = await self.bot.commands.submit(self.ctx(), prompt.form_id, values)
        while reply.errors and self.ask is not None:
            for name, err in reply.errors.items():
                self.write(f"  ✗ {name}: {err}")
                values[name] = self.ask(f"  {name}: ")
            reply = await self.bot.commands.submit(self.ctx(), prompt.form_id, values)
        return reply
