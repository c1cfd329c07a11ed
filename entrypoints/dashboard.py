"""The dashboard surface (``SURFACES["dashboard"]``): the staff dashboard and customer
transcripts on the shared HTTP server, and the signed links ``/case dashboard`` and
``/case transcript`` hand out.

Wanted when the deployment has said where links should point or how to sign them
(``CASEBOT_PUBLIC_URL``, ``CASEBOT_SECRET_KEY``) or which port to serve on
(``CASEBOT_HTTP_PORT``), unless ``CASEBOT_DASHBOARD=off``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from adapters.web import WebServer
from adapters.web.dashboard import Dashboard, Sessions, SignedLinks
from adapters.web.signing import Signer, secret_from_env
from bot.config import Config
from bot.reports.pages import Pages

if TYPE_CHECKING:
    from entrypoints.bootstrap import Casebot

SIGNALS = ("CASEBOT_PUBLIC_URL", "CASEBOT_SECRET_KEY", "CASEBOT_HTTP_PORT")


def wanted(config: Config, env: Mapping[str, str]) -> bool:
    if env.get("CASEBOT_DASHBOARD", "").strip().lower() in ("off", "0", "false", "no"):
        return False
    return any(env.get(name, "").strip() for name in SIGNALS)


def mount(server: WebServer, bot: Casebot, env: Mapping[str, str]) -> None:
    signer = Signer(secret_from_env(env))
    secure = server.public_url.startswith("https://")
    Dashboard(Pages(bot.units), Sessions(signer, secure)).mount(server)
    bot.units.links = SignedLinks(signer, lambda: server.public_url)
