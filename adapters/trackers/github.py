"""GitHub Issues as the engineering tracker (githubkit: async, typed, GitHub Enterprise
by ``GITHUB_API_URL``), and its webhook (``POST /webhooks/github``).

githubkit's own retrying is off: a rate-limited or failing call becomes a
:class:`~bot.ports.DeliveryError` and the outbox retries it with backoff, waiting
exactly the ``Retry-After`` (or ``X-RateLimit-Reset``) GitHub asked for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
from githubkit import GitHub, TokenAuthStrategy
from githubkit.exception import RateLimitExceeded, RequestError, RequestFailed
from githubkit.webhooks import verify

from bot.config.integrations import Tracker
from bot.ports import DeliveryError
from bot.terms import EngStatus
from bot.tracker import Impact, RemoteIssue

DEFAULT_API_URL = "https://api.github.com"
# Answers that retrying cannot change (a bad token, a gone repository, a bad body).
_PERMANENT = {400, 401, 404, 410, 422}


class GitHubTracker:
    kind = "github"

    def __init__(
        self, config: Tracker, token: str, api_url: str | None = None, timeout: float = 15.0
    ) -> None:
        assert config.repo is not None
        self.config = config
        self.repo = config.repo
        self.gh: GitHub[Any] = GitHub(
            TokenAuthStrategy(token),
            base_url=(api_url or DEFAULT_API_URL).rstrip("/") + "/",
            auto_retry=False,
            http_cache=False,
            timeout=timeout,
            user_agent="casebot",
        )

    @classmethod
    def from_env(cls, config: Tracker, env: Mapping[str, str]) -> GitHubTracker:
        token = env.get("GITHUB_TOKEN", "").strip()
        if not token:
            raise ValueError("tracker: kind github needs GITHUB_TOKEN in the environment")
        return cls(config, token, env.get("GITHUB_API_URL") or None)

    async def create(self, title: str, body: str, impact: Impact, kind: str) -> RemoteIssue:
        owner, repo = self.repo.split("/", 1)
        labels: list[str] = [*impact.labels] if self.config.impact_labels else []
        resp = await _call(
            self.gh.rest.issues.async_create(owner, repo, title=title, body=body, labels=labels)
        )
        return self.remote(resp.json(), owner, repo)

    async def get(self, ref: str) -> RemoteIssue:
        owner, repo, number = split_ref(ref)
        resp = await _call(self.gh.rest.issues.async_get(owner, repo, number))
        return self.remote(resp.json(), owner, repo)

    async def set_impact(self, ref: str, impact: Impact, previous: tuple[str, ...]) -> None:
        """Remove the labels casebot put there last time, add the new ones: two label
        calls rather than rewriting the issue's labels, so an engineer's own labels
        added meanwhile are never lost."""
        owner, repo, number = split_ref(ref)
        for name in previous:
            if name in impact.labels:
                continue
            # 404: an engineer removed it already.
            await _call(self.gh.rest.issues.async_remove_label(owner, repo, number, name), 404)
        await _call(
            self.gh.rest.issues.async_add_labels(
                owner, repo, number, data={"labels": list(impact.labels)}
            )
        )

    async def close(self) -> None:
        """Nothing held: githubkit opens a client per call outside ``async with``."""

    def remote(self, data: Mapping[str, Any], owner: str, repo: str) -> RemoteIssue:
        return remote_of(self.config, data, owner, repo)


def remote_of(config: Tracker, data: Mapping[str, Any], owner: str, repo: str) -> RemoteIssue:
    """A GitHub issue object (REST and webhook payloads alike) in neutral words."""
    labels = tuple(str(lb["name"]) for lb in data.get("labels", []) if isinstance(lb, dict))
    return RemoteIssue(
        ref=f"{owner}/{repo}#{int(data['number'])}",
        url=str(data.get("html_url", "")),
        title=str(data.get("title", "")),
        state=str(data.get("state", "")),
        status=status_of(config, data, labels),
        labels=labels,
    )


def split_ref(ref: str) -> tuple[str, str, int]:
    path, _, number = ref.partition("#")
    owner, _, repo = path.partition("/")
    return owner, repo, int(number)


def status_of(config: Tracker, issue: Mapping[str, Any], labels: tuple[str, ...]) -> str | None:
    """Closed as completed → fixed, closed as not planned → won't fix, open → open, or
    in progress when it carries a label ``statuses`` maps so."""
    if issue.get("state") == "closed":
        if issue.get("state_reason") == "not_planned":
            return EngStatus.WONT_FIX.value
        return EngStatus.FIXED.value
    for label in labels:
        if label in config.statuses:
            return config.statuses[label]
    return EngStatus.OPEN.value


async def _call(request: Any, *fine: int) -> Any:
    """The call's response; None when it failed with a status in ``fine``."""
    try:
        return await request
    except RateLimitExceeded as exc:
        raise DeliveryError(
            f"GitHub rate limit ({exc.response.status_code})",
            retry_after=max(exc.retry_after.total_seconds(), 1.0),
        ) from None
    except RequestFailed as exc:
        code = exc.response.status_code
        if code in fine:
            return None
        raise DeliveryError(
            f"GitHub answered {code}: {exc.response.text[:300]}", permanent=code in _PERMANENT
        ) from None
    except (RequestError, httpx.HTTPError) as exc:
        raise DeliveryError(f"GitHub unreachable: {exc.__class__.__name__}: {exc}") from None


# -- the webhook -------------------------------------------------------------------------


def signature_ok(secret: str, body: bytes, signature: str | None) -> bool:
    """``X-Hub-Signature-256`` is ``sha256=<HMAC-SHA256 of the raw body>``; nothing else
    (no SHA-1 fallback) is accepted."""
    if not secret or not signature or not signature.startswith("sha256="):
        return False
    return bool(verify(secret, body, signature))


def parse_event(
    config: Tracker, event: str, body: bytes
) -> tuple[str, RemoteIssue | None, dict[str, str] | None]:
    """``(what, remote, comment)`` for a verified delivery: the issue it reports, or a
    comment (``ref``, ``author``, ``text``), or neither for events casebot ignores."""
    data = json.loads(body)
    if not isinstance(data, dict):
        return "not an object", None, None
    issue = data.get("issue")
    repo = (data.get("repository") or {}).get("full_name") or config.repo or ""
    if not isinstance(issue, dict) or "/" not in repo or "pull_request" in issue:
        return f"{event} ignored", None, None
    owner, name = repo.split("/", 1)
    action = str(data.get("action", ""))
    if event == "issue_comment" and action == "created":
        comment = data.get("comment") or {}
        return (
            "comment",
            None,
            {
                "ref": f"{owner}/{name}#{int(issue['number'])}",
                "author": str((comment.get("user") or {}).get("login", "someone")),
                "text": str(comment.get("body", "")),
            },
        )
    if event != "issues" or action not in ("opened", "closed", "reopened", "labeled", "unlabeled"):
        return f"{event}.{action} ignored", None, None
    return f"issues.{action}", remote_of(config, issue, owner, name), None
