"""The email platform: customers open and answer cases by mail, threaded into the same
cases engineers work on in Slack or Discord (see docs/email.md).

The platform registry (``entrypoints.platforms``) calls :func:`configured` and
:func:`from_env`; :mod:`adapters.email.links` is the web surface for the signed links
in mails (``entrypoints.web`` ``SURFACES``).
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.email.platform import EmailPlatform, from_env

__all__ = ["EmailPlatform", "configured", "from_env"]


def configured(env: Mapping[str, str]) -> bool:
    """Whether email should run when no platform is named: a mail server is set."""
    return any(
        env.get(name, "").strip()
        for name in ("CASEBOT_SMTP_URL", "CASEBOT_SMTP_LISTEN", "CASEBOT_IMAP_URL")
    )
