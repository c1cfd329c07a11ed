"""The email platform's environment: where mail comes in and goes out.

- ``CASEBOT_SMTP_URL=smtp[s]://user@host:port`` (password ``CASEBOT_SMTP_PASSWORD``):
  the server casebot sends through; ``smtp://`` upgrades with STARTTLS when the server
  offers it, ``smtps://`` is TLS from the start.
- ``CASEBOT_SMTP_LISTEN=host:port``: the built-in receiver (an MX or forwarder points
  at it).
- ``CASEBOT_IMAP_URL=imap[s]://user@host:port/INBOX`` (password
  ``CASEBOT_IMAP_PASSWORD``): a mailbox to poll, with IDLE where the server has it;
  ``CASEBOT_IMAP_POLL`` seconds between polls without IDLE (default 60).

Secrets come only from here, never from the configuration file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from bot.ports import PlatformError


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str = ""
    password: str = ""
    tls: bool = False  # TLS from the first byte (smtps, imaps)
    path: str = ""  # the IMAP mailbox


@dataclass(frozen=True)
class EmailEnv:
    smtp: Server | None
    listen: tuple[str, int] | None
    imap: Server | None
    imap_poll: float = 60.0

    @classmethod
    def read(cls, env: Mapping[str, str]) -> EmailEnv:
        smtp_url = env.get("CASEBOT_SMTP_URL", "").strip()
        imap_url = env.get("CASEBOT_IMAP_URL", "").strip()
        listen = env.get("CASEBOT_SMTP_LISTEN", "").strip()
        poll = env.get("CASEBOT_IMAP_POLL", "").strip() or "60"
        try:
            imap_poll = float(poll)
        except ValueError:
            raise PlatformError(
                f"CASEBOT_IMAP_POLL must be a number of seconds, not '{poll}'"
            ) from None
        return cls(
            smtp=_server(
                "CASEBOT_SMTP_URL",
                smtp_url,
                {"smtp": (25, False), "smtps": (465, True)},
                env.get("CASEBOT_SMTP_PASSWORD", ""),
            )
            if smtp_url
            else None,
            listen=_listen(listen) if listen else None,
            imap=_server(
                "CASEBOT_IMAP_URL",
                imap_url,
                {"imap": (143, False), "imaps": (993, True)},
                env.get("CASEBOT_IMAP_PASSWORD", ""),
            )
            if imap_url
            else None,
            imap_poll=max(1.0, imap_poll),
        )

    @property
    def receives(self) -> bool:
        return self.listen is not None or self.imap is not None


def _server(name: str, url: str, schemes: Mapping[str, tuple[int, bool]], password: str) -> Server:
    parts = urlsplit(url)
    if parts.scheme not in schemes or not parts.hostname:
        shapes = " or ".join(f"{s}://user@host:port" for s in schemes)
        raise PlatformError(f"{name} must look like {shapes}, not '{_hide(url)}'")
    default_port, tls = schemes[parts.scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise PlatformError(f"{name} has a port that is not a number: '{_hide(url)}'") from None
    return Server(
        host=parts.hostname,
        port=port,
        user=unquote(parts.username or ""),
        # A password in the URL works too, but the environment variable is the place.
        password=password or unquote(parts.password or ""),
        tls=tls,
        path=unquote(parts.path.lstrip("/")) or "INBOX",
    )


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise PlatformError(f"CASEBOT_SMTP_LISTEN must look like host:port, not '{text}'")
    return host.strip("[]") or "127.0.0.1", int(port)


def _hide(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
