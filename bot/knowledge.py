"""Knowledge write-back: resolved cases that no article solved become draft articles
that an engineer publishes (searchable at once) or discards.

:class:`KnowledgeDrafts` observes every unit of work (the bootstrap registers it): a
case the unit says was ``resolved`` (``Work.tell``) gets its draft before the commit.
"""

from __future__ import annotations

import re

from sqlalchemy import select

from bot import kb_files
from bot import templates as t
from bot.actors import SYSTEM, Actor
from bot.errors import Refusal
from bot.keys import normalize_key
from bot.policy import Deed
from bot.search import settings_for
from bot.terms import ArticleStatus
from bot.work import Work
from storage.keys import next_key
from storage.models import Case, EngIssue, EngLink, KbArticle
from storage.search import search_articles

RESOLVED = "resolved"  # what Work.tell says of a case that earns a draft
KB_KEY = re.compile(r"\bKB-\d+\b", re.IGNORECASE)


class KnowledgeDrafts:
    """The unit-of-work observer that drafts an article from every case resolved in
    the unit (once per case)."""

    def begin(self, w: Work) -> None:
        pass

    async def finish(self, w: Work) -> None:
        done: set[int] = set()
        for what, case in list(w.happened):
            if what != RESOLVED or id(case) in done:
                continue
            done.add(id(case))
            await draft_from_case(w, case)


async def covering_article(w: Work, case: Case) -> str | None:
    """The published article that already covers ``case``, if one does: one its
    resolution names ("see KB-3"), or one that is the best match both for the problem
    and for the resolution the customer confirmed, in the case's area (an article the
    customer was shown and did not take does not count: it did not solve it for them)."""
    resolution = case.proposed_resolution or ""
    named = [normalize_key(k, "KB") for k in KB_KEY.findall(resolution)]
    if named:
        found = (
            await w.session.scalars(
                select(KbArticle.key).where(
                    KbArticle.key.in_(named), KbArticle.status == ArticleStatus.PUBLISHED.value
                )
            )
        ).first()
        if found:
            return found
    if not resolution.strip():
        return None
    problem = await search_articles(
        w.session, f"{case.title} {case.description}", limit=1, area=case.area
    )
    fix = await search_articles(w.session, resolution, limit=1, area=case.area)
    if problem and fix and problem[0].key == fix[0].key:
        key = problem[0].key
        if key not in (case.kb_suggested or []):
            return key
    return None


async def draft_from_case(w: Work, case: Case) -> KbArticle | None:
    """Write a draft from a resolved case, unless an article already covers it: one
    that deflected it, one drafted from another case of the same ENG issue, or one
    that covers its problem and resolution (the engineer is pointed at that one)."""
    if case.kb_article_key:
        return None
    issues = (
        await w.session.scalars(
            select(EngIssue)
            .join(EngLink, EngLink.eng_id == EngIssue.id)
            .where(EngLink.case_id == case.id)
            .order_by(EngIssue.id)
        )
    ).all()
    eng_keys = [i.key for i in issues]
    if eng_keys:
        covered = (
            await w.session.scalars(
                select(KbArticle).where(KbArticle.status != ArticleStatus.DISCARDED.value)
            )
        ).all()
        if any(eng_key in (a.tags or []) for eng_key in eng_keys for a in covered):
            return None
    existing = await covering_article(w, case)
    if existing:
        w.event(case, SYSTEM, "kb_covered", existing, internal=True)
        if case.assignee_id:
            w.notify(
                t.to_person(
                    case.assignee_id,
                    case,
                    f"{existing} already covers {case.key}: no draft written",
                    f"Read it with `/case kb show {existing}`; if {case.key} taught us "
                    "something it lacks, say so to whoever keeps the knowledge base.",
                ),
                case,
            )
        return None
    key = await next_key(w.session, "KB")
    article = KbArticle(
        key=key,
        title=case.title,
        symptoms=case.description or case.title,
        # What customers were told of the cause: the issue as it was announced to them
        # (never a bare key), for the engineer to complete.
        cause="; ".join(f"{i.kind.capitalize()}: {i.title}" for i in issues),
        # Public text only: the resolution the customer confirmed, as they saw it.
        resolution=resolution_confirmed(case),
        area=case.area,
        tags=list(eng_keys),
        source_case=case.key,
        status=ArticleStatus.DRAFT.value,
        author_id=case.assignee_id,
        created_at=w.now,
        updated_at=w.now,
    )
    w.session.add(article)
    case.kb_article_key = None
    w.event(case, SYSTEM, "kb_draft", key, internal=True)
    if case.assignee_id:
        w.notify(t.kb_draft(case, case.assignee_id, key, public_text(article)), case)
    return article


def resolution_confirmed(case: Case) -> str:
    """The resolution as the customer confirmed it: the proposal they were shown (notes
    and engineering's internal remarks never were)."""
    return (case.proposed_resolution or "").strip()


async def _article(w: Work, key: str) -> KbArticle:
    norm = normalize_key(key, "KB")
    article = (
        await w.session.scalars(select(KbArticle).where(KbArticle.key == norm).with_for_update())
    ).one_or_none()
    if article is None:
        raise Refusal(f"There is no knowledge-base article {norm}.")
    return article


# The sections of an article, as `kb edit` names them.
SECTIONS = ("title", *kb_files.SECTIONS)


def public_text(article: KbArticle) -> str:
    """What customers are shown of an article, section by section."""
    lines = [f"{article.key}: {article.title}"]
    for name in SECTIONS[1:]:
        body = (getattr(article, name) or "").strip()
        lines.append(f"{name.capitalize()}: {body or '(empty)'}")
    return "\n".join(lines)


async def show(w: Work, actor: Actor, key: str) -> str:
    """``kb show``: the whole article as customers would read it, and its state."""
    w.require(actor, Deed.KB)
    article = await _article(w, key)
    source = f", drafted from {article.source_case}" if article.source_case else ""
    head = f"{article.key} ({article.status}{source})"
    if article.status == ArticleStatus.DRAFT:
        head += (
            f". Correct it with `/case kb edit {article.key} <section> <text>` "
            f"(sections: {', '.join(SECTIONS)}), then `/case kb publish {article.key}`."
        )
    return head + "\n" + public_text(article)


async def edit(w: Work, actor: Actor, key: str, section: str, text: str) -> str:
    """``kb edit``: rewrite one section of a draft before it becomes public."""
    w.require(actor, Deed.KB)
    article = await _article(w, key)
    if article.status != ArticleStatus.DRAFT:
        raise Refusal(f"{article.key} is {article.status}: only drafts are edited here.")
    name = section.strip().lower()
    if name not in SECTIONS:
        raise Refusal(f"'{section}' is not a section: use one of {', '.join(SECTIONS)}.")
    body = text.strip()
    if not body and name == "title":
        raise Refusal(f"A title can't be empty: `/case kb edit {article.key} title <text>`.")
    setattr(article, name, body)
    article.updated_at = w.now
    return f"{article.key} {name} updated.\n" + public_text(article)


async def publish(w: Work, actor: Actor, key: str) -> str:
    w.require(actor, Deed.KB)
    article = await _article(w, key)
    if article.status != ArticleStatus.DRAFT:
        raise Refusal(f"{article.key} is {article.status}, not a draft.")
    article.status = ArticleStatus.PUBLISHED.value
    article.updated_at = w.now
    return (
        f"{article.key} is published: customers will find it from now on. "
        "This is what they see:\n" + public_text(article)
    )


async def discard(w: Work, actor: Actor, key: str) -> str:
    w.require(actor, Deed.KB)
    article = await _article(w, key)
    if article.status != ArticleStatus.DRAFT:
        raise Refusal(f"{article.key} is {article.status}, not a draft.")
    article.status = ArticleStatus.DISCARDED.value
    article.updated_at = w.now
    return f"{article.key} is discarded."


async def search(w: Work, actor: Actor, query: str) -> str:
    w.require(actor, Deed.KB)
    if not query.strip():
        raise Refusal("Search for something: `/case kb search <words>`.")
    hits = await search_articles(w.session, query, limit=5, settings=settings_for(w.config))
    if not hits:
        return f"No article matches '{query.strip()}'."
    return "\n".join(f"{h.key} — {h.title}\n  {h.snippet}" for h in hits)


async def drafts(w: Work, actor: Actor) -> str:
    w.require(actor, Deed.KB)
    rows = (
        await w.session.scalars(
            select(KbArticle)
            .where(KbArticle.status == ArticleStatus.DRAFT.value)
            .order_by(KbArticle.id)
        )
    ).all()
    if not rows:
        return "No drafts waiting."
    return "\n".join(f"{a.key} — {a.title} (from {a.source_case})" for a in rows)
