"""The web dashboard (staff) and case transcripts (customers), served on the shared
HTTP server: aiohttp routes, Jinja2 templates, Chart.js and htmx vendored in
``static/`` (docs/dashboard.md)."""

from adapters.web.dashboard.app import Dashboard
from adapters.web.dashboard.session import Sessions, SignedLinks

__all__ = ["Dashboard", "Sessions", "SignedLinks"]
