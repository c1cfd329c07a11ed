"""The unit-of-work observer that keeps the report rollup current: every case a unit of
work writes (its row, a timeline entry, a survey answer) has its report fact and day
sums brought up to date before the unit commits, in the same transaction. Use cases do
nothing for it; the bootstrap registers it after the service levels (whose changes it
then sees). Durations are measured by the configuration's clock (``bot.sla.clock``:
business time where a target is in business days)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from bot.sla import clock
from bot.work import Work
from storage import rollup
from storage.models import Case, CaseEvent, SurveyAnswer

WRITTEN = "report_rollup_cases"


def _note(session: Session, _ctx: Any, _instances: Any) -> None:
    written: list[Any] | None = session.info.get(WRITTEN)
    if written is None:
        return
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Case | CaseEvent | SurveyAnswer):
            written.append(obj)


class ReportRollup:
    def begin(self, w: Work) -> None:
        w.session.info[WRITTEN] = []
        event.listen(w.session.sync_session, "before_flush", _note)

    async def finish(self, w: Work) -> None:
        await w.session.flush()
        written: list[Any] = w.session.info.pop(WRITTEN, None) or []
        ids = {o.id if isinstance(o, Case) else o.case_id for o in written}
        await rollup.refresh(w.session, {i for i in ids if i is not None}, clock(w.config))
