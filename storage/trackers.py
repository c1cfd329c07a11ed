"""Where an engineering issue lives in the team's tracker (GitHub Issues, Jira): one row
per ENG issue that has a tracker issue, with what casebot last pushed to it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base

# As storage.models.BigId (not imported: this module is imported at its end).
BigId = BigInteger().with_variant(Integer(), "sqlite")


class TrackerLink(Base):
    """ENG-n ↔ a tracker issue (``owner/repo#123`` or ``KEY-123``).

    ``remote_state`` is the issue's state as last seen (``closed:fixed``: the tracker's
    word, then the casebot status it means); ``labels`` the impact labels last pushed
    (``impact:12 customers:3``), ``labels_at`` when, and ``labels_due`` set while a
    coalesced update is scheduled.
    """

    __tablename__ = "eng_tracker_links"
    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    eng_id: Mapped[int] = mapped_column(ForeignKey("eng_issues.id"), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    ref: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(String(500), default="")
    remote_state: Mapped[str] = mapped_column(String(64), default="")
    labels: Mapped[str] = mapped_column(String(200), default="")
    labels_at: Mapped[datetime | None] = mapped_column()
    labels_due: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column()
