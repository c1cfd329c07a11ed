"""The team's issue tracker, seen from the core: the :class:`EngineeringTracker` port the
GitHub and Jira adapters implement, and the neutral rules around it — what a tracker
reference looks like, what an issue's body and impact labels say, and how a tracker
call is queued.

Tracker calls never run inside a use case's transaction: a use case queues a
:class:`TrackerCall` in the outbox (platform ``tracker``, ordered per ENG issue) and the
dispatcher delivers it through :class:`bot.tracker_sync.TrackerSync`, retried with
backoff, ``Retry-After`` honoured. A tracker that is down only delays the call.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import select

from bot.config import Config
from bot.config.integrations import Tracker
from bot.eng_issues import linked_cases
from bot.errors import Refusal
from bot.messages import Kind, Message, Target
from bot.work import Work
from storage.models import Case, EngIssue
from storage.trackers import TrackerLink

# The outbox platform tracker calls are queued on.
PLATFORM = "tracker"
# Timer kinds (handlers in bot.tracker_sync).
IMPACT_TIMER = "tracker.impact"
RECONCILE_TIMER = "tracker.reconcile"

_GITHUB_URL = re.compile(r"https?://[^/\s]+/([\w.-]+)/([\w.-]+)/(?:issues|pull)/(\d+)/?(?:[#?].*)?")
_GITHUB_SHORT = re.compile(r"([\w.-]+)/([\w.-]+)#(\d+)")
_JIRA_URL = re.compile(r"https?://[^/\s]+/browse/([A-Z][A-Z0-9_]+-\d+)/?(?:[#?].*)?")
_JIRA_KEY = re.compile(r"([A-Z][A-Z0-9_]+-\d+)")


@dataclass(frozen=True)
class RemoteIssue:
    """A tracker issue as the tracker tells it, in neutral words.

    ``state``: the tracker's own word (GitHub ``open``/``closed``, a Jira status name);
    ``status``: the casebot status it means (``fixed``, ``open``…), None when it means
    no change; ``labels``: the issue's labels."""

    ref: str
    url: str
    title: str
    state: str
    status: str | None
    labels: tuple[str, ...] = ()

    @property
    def seen(self) -> str:
        """What casebot remembers of the issue's state: it acts only when this changes,
        so a status set in casebot is not undone by a tracker that has not moved."""
        return f"{self.state}:{self.status or ''}"[:64]


@dataclass(frozen=True)
class Impact:
    """What the tracker is told about an issue's impact on the customer base."""

    score: int
    accounts: int
    cases: int
    worst_severity: str
    tiers: tuple[str, ...]

    @property
    def labels(self) -> tuple[str, ...]:
        return (f"impact:{self.score}", f"customers:{self.accounts}")


class EngineeringTracker(Protocol):
    """The team's tracker (GitHub Issues, Jira; Linear later). Every call may raise
    :class:`bot.ports.DeliveryError` (``retry_after`` when rate limited, ``permanent``
    when retrying cannot help)."""

    kind: str

    async def create(self, title: str, body: str, impact: Impact, kind: str) -> RemoteIssue: ...

    async def get(self, ref: str) -> RemoteIssue: ...

    async def set_impact(self, ref: str, impact: Impact, previous: tuple[str, ...]) -> None: ...

    async def close(self) -> None: ...


@dataclass
class TrackerCall:
    """One queued call: ``op`` is ``create`` (a new ENG issue), ``fetch`` (read its state
    and apply it: linking by URL, reconciliation) or ``impact`` (push the labels)."""

    op: str
    eng_key: str
    title: str = ""
    body: str = ""
    kind: str = "defect"
    impact: dict[str, Any] = field(default_factory=dict)
    ref: str = ""
    previous: list[str] = field(default_factory=list)

    def to_message(self) -> Message:
        return Message(
            kind=Kind.ENG_UPDATE,
            target=Target.team(PLATFORM),
            title=f"tracker {self.op} {self.eng_key}",
            text=json.dumps(asdict(self), sort_keys=True),
            eng_key=self.eng_key,
            # The outbox keeps one key's rows in order: a create before its updates.
            case_key=self.eng_key,
            platform=PLATFORM,
        )

    @classmethod
    def from_message(cls, message: Message) -> TrackerCall:
        return cls(**json.loads(message.text))

    def impact_value(self) -> Impact:
        data = dict(self.impact)
        data["tiers"] = tuple(data.get("tiers", ()))
        return Impact(**data)


def queue(w: Work, call: TrackerCall) -> None:
    """Queue ``call`` in this unit's outbox (it commits with the change behind it)."""
    w.messages.append(call.to_message())


# -- references ---------------------------------------------------------------------------


def parse_ref(tracker: Tracker, text: str) -> tuple[str, str]:
    """``(ref, url)`` for an issue URL, ``owner/repo#123`` or ``KEY-123``, in the words of
    the configured tracker; a :class:`Refusal` that says what would do otherwise."""
    t = text.strip().strip("<>")
    if tracker.kind == "github":
        if m := _GITHUB_URL.fullmatch(t):
            owner, repo, n = m.groups()
            return f"{owner}/{repo}#{int(n)}", t.split("#")[0].split("?")[0]
        if m := _GITHUB_SHORT.fullmatch(t):
            owner, repo, n = m.groups()
            return f"{owner}/{repo}#{int(n)}", _github_url(f"{owner}/{repo}", int(n))
        raise Refusal(
            f"'{text}' is not a GitHub issue: give ENG-n, an issue URL or "
            f"{tracker.repo or 'owner/repo'}#123."
        )
    m = _JIRA_URL.fullmatch(t) or _JIRA_KEY.fullmatch(t.upper())
    if m is None or m.group(1).split("-")[0] in ("CASE", "ENG", "KB"):
        raise Refusal(
            f"'{text}' is not a Jira issue: give ENG-n, an issue URL or {tracker.project}-123."
        )
    key = m.group(1)
    return key, f"{tracker.url}/browse/{key}"


def _github_url(repo: str, number: int) -> str:
    return f"https://github.com/{repo}/issues/{number}"


async def link_of(w: Work, issue: EngIssue) -> TrackerLink | None:
    return (
        await w.session.scalars(select(TrackerLink).where(TrackerLink.eng_id == issue.id))
    ).one_or_none()


async def link_by_ref(w: Work, ref: str) -> TrackerLink | None:
    return (
        await w.session.scalars(select(TrackerLink).where(TrackerLink.ref == ref))
    ).one_or_none()


# -- what the tracker is told -------------------------------------------------------------


async def impact_of(w: Work, issue: EngIssue, scored: tuple[int, int, int]) -> Impact:
    """The impact summary for ``scored`` (``bot.engineering.priority``, the one owner of
    the score): never a customer's name or words (those are in the body only with
    ``tracker.share_customer_text``)."""
    score, accounts, n = scored
    cases = await _live_cases(w, issue)
    tiers = sorted({(a.tier if (a := w.config.account(c.account_key)) else "") for c in cases})
    worst = min((c.severity for c in cases), default="")
    return Impact(score, accounts, n, worst, tuple(t for t in tiers if t))


async def _live_cases(w: Work, issue: EngIssue) -> list[Case]:
    return await linked_cases(w, issue, active_only=True)


async def body_of(w: Work, issue: EngIssue, impact: Impact) -> str:
    lines = [
        f"Logged from customer support as {issue.key} ({issue.kind}).",
        "",
        "**Customer impact** (kept up to date by casebot as labels):",
        f"- priority by impact: {impact.score}",
        f"- accounts affected: {impact.accounts}",
        f"- worst severity: {impact.worst_severity or 'none open'}",
        f"- tiers: {', '.join(impact.tiers) or 'none'}",
        f"- linked cases: {impact.cases}",
    ]
    tracker = w.config.tracker
    if tracker is not None and tracker.share_customer_text:
        lines += ["", "**Linked cases**:"]
        for c in await _live_cases(w, issue):
            account = w.config.account(c.account_key)
            name = account.name if account else c.account_key
            lines.append(f"- {c.key} ({name}, {c.severity}): {c.title}")
    lines += ["", f"<!-- casebot:{issue.key} -->"]
    return "\n".join(lines)


# -- the use-case side: what the ENG use cases call -------------------------------------


def configured(config: Config) -> bool:
    return config.tracker is not None


async def issue_logged(w: Work, issue: EngIssue, scored: tuple[int, int, int]) -> None:
    """A new ENG issue: create it in the tracker."""
    if not configured(w.config):
        return
    impact = await impact_of(w, issue, scored)
    queue(
        w,
        TrackerCall(
            "create",
            issue.key,
            title=issue.title,
            body=await body_of(w, issue, impact),
            kind=issue.kind,
            impact=asdict(impact),
        ),
    )


async def impact_changed(w: Work, issue: EngIssue) -> None:
    """Links or severities changed: push the labels, at most once per ``impact_every``
    per issue; changes meanwhile coalesce into the one update (the timer reads the
    impact when it fires)."""
    tracker = w.config.tracker
    if tracker is None or not tracker.impact_labels and not tracker.impact_field:
        return
    link = await link_of(w, issue)
    if link is None or link.labels_due is not None:
        return  # not created yet (the create carries the labels) or already scheduled
    due = w.now
    if link.labels_at is not None:
        due = max(due, link.labels_at + throttle(w.config))
    link.labels_due = due
    w.schedule(IMPACT_TIMER, due, None, eng_id=issue.id)


def throttle(config: Config) -> timedelta:
    return config.tracker.impact_every.approx() if config.tracker else timedelta(minutes=1)


async def adopt(w: Work, text: str, created_by: str, platform: str) -> EngIssue:
    """The ENG issue for a tracker issue named by URL or reference: the one already
    linked to it, or a new one whose title and state the tracker fills in."""
    from storage.keys import next_key

    tracker = w.config.tracker
    if tracker is None:
        raise Refusal(
            f"'{text}' is not an ENG key (they look like ENG-12); tracker issues can be "
            "linked once a tracker is configured."
        )
    ref, url = parse_ref(tracker, text)
    if (link := await link_by_ref(w, ref)) is not None:
        issue = await w.session.get(EngIssue, link.eng_id, with_for_update=True)
        assert issue is not None
        return issue
    issue = EngIssue(
        key=await next_key(w.session, "ENG"),
        kind="defect",
        title=ref,
        status="open",
        area=None,
        created_by=created_by,
        created_at=w.now,
        updated_at=w.now,
        priority_score=0,
        platform=platform,
    )
    w.session.add(issue)
    await w.session.flush()
    w.session.add(remember(w.now, issue, tracker.kind, ref, url, ""))
    queue(w, TrackerCall("fetch", issue.key, ref=ref))
    return issue


def remember(
    now: datetime, issue: EngIssue, kind: str, ref: str, url: str, state: str
) -> TrackerLink:
    return TrackerLink(
        eng_id=issue.id,
        kind=kind,
        ref=ref,
        url=url,
        remote_state=state,
        labels="",
        created_at=now,
        updated_at=now,
    )
