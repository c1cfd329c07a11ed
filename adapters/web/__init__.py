"""casebot's one HTTP server: what every surface that speaks HTTP mounts on.

Slack's ``POST /slack/events`` (HTTP mode), the trackers' webhooks, the dashboard and
the signed links mailed to customers all share one port, so a deployment opens one
port and sets one public URL. See :class:`adapters.web.server.WebServer`.
"""

from adapters.web.server import WebServer, public_url_from_env

__all__ = ["WebServer", "public_url_from_env"]
