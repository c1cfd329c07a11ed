"""Sending mail with aiosmtplib: one connection per mail (a support desk sends a few a
minute, and a fresh connection never trips over a server's idle timeout).

A 4xx answer or a network failure is worth retrying (:class:`~bot.ports.DeliveryError`,
the outbox backs off); a 5xx answer is permanent (an address that does not exist stays
so), and the row is kept as failed for ``casebot outbox list --failed``.
"""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from adapters.email.settings import Server
from bot.ports import DeliveryError

TIMEOUT = 30.0


class SmtpSender:
    def __init__(self, server: Server) -> None:
        self.server = server

    async def send(self, mail: EmailMessage, sender: str, to: str) -> None:
        s = self.server
        try:
            await aiosmtplib.send(
                mail,
                sender=sender,
                recipients=[to],
                hostname=s.host,
                port=s.port,
                username=s.user or None,
                password=s.password or None,
                use_tls=s.tls,
                # STARTTLS when the server offers it; a local relay may not.
                start_tls=None if not s.tls else False,
                timeout=TIMEOUT,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            raise DeliveryError(
                f"the mail server refused {to}: {exc}", permanent=all(c >= 500 for c in codes)
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"the mail server answered {exc.code} {exc.message}", permanent=exc.code >= 500
            ) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(f"cannot send mail via {s.host}:{s.port}: {exc}") from None
