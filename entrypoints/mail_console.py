"""The console and the email platform in one process (``casebot run --platform console
--platform email``): ``mail …`` typed at the console reaches the email platform as a
mail, and every mail in and out is shown at the console, so casebot's mail side can be
tried without a mail server."""

from __future__ import annotations

from collections.abc import Iterable
from email.message import EmailMessage

from adapters.console import ConsolePlatform
from adapters.email import EmailPlatform
from adapters.email.compose import summary
from bot.ports import Platform


def wire(platforms: Iterable[Platform]) -> None:
    running = list(platforms)
    console = next((p for p in running if isinstance(p, ConsolePlatform)), None)
    email = next((p for p in running if isinstance(p, EmailPlatform)), None)
    if console is None or email is None:
        return

    def watch(direction: str, mail: EmailMessage) -> None:
        console.write(summary(direction, mail))

    email.watch = watch
    console.connect_mail(email.write_in)
