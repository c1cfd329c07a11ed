"""Tables of knowledge search: sentence embeddings of article sections (the semantic
extra writes them with ``casebot kb index``; without the extra they stay empty)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, BigId, EngIssue, KbArticle


class KbChunk(Base):
    """One section of an article embedded by one model: float32 little-endian, unit
    length. ``updated_at`` is the article's when it was embedded, so an edit shows."""

    __tablename__ = "kb_chunks"
    __table_args__ = (Index("ix_kb_chunks_model_article", "model", "article_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("kb_articles.id", ondelete="CASCADE"))
    model: Mapped[str] = mapped_column(String(200))
    section: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[datetime] = mapped_column()
    vector: Mapped[bytes] = mapped_column(LargeBinary)


# Search reads a table's fingerprint (count, max id, latest change) on every query.
Index("ix_kb_articles_updated_at", KbArticle.__table__.c.updated_at)
Index("ix_eng_issues_updated_at", EngIssue.__table__.c.updated_at)
