"""The unit-of-work observer that keeps the report rollup current: every case a unit of
work writes (its row, a timeline entry, a survey answer) has its report fact and day
sums brought up to date before the unit commits, in the same transaction (the day sums
last of all, ``Work.at_commit``: every unit of the day shares their rows). Use cases do
nothing for it; the bootstrap registers it after the service levels (whose changes it
then sees). Durations are measured by the configuration's clock (``bot.sla.clock``:
business time where a target is in business days)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from bot.sla import BREACHED, Clock, clock
from bot.work import Work
from storage import rollup
from storage.models import Case, CaseEvent, SurveyAnswer

WRITTEN = "report_rollup_cases"
BORN = "report_rollup_born"


def _note(session: Session, _ctx: Any, _instances: Any) -> None:
    written: list[Any] | None = session.info.get(WRITTEN)
    if written is None:
        return
    born: list[Case] = session.info[BORN]
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Case | CaseEvent | SurveyAnswer):
            written.append(obj)
            if isinstance(obj, Case) and obj in session.new:
                born.append(obj)


class ReportRollup:
    def begin(self, w: Work) -> None:
        w.session.info[WRITTEN] = []
        w.session.info[BORN] = []
        event.listen(w.session.sync_session, "before_flush", _note)

    async def finish(self, w: Work) -> None:
        await w.session.flush()
        written: list[Any] = w.session.info.pop(WRITTEN, None) or []
        born = _born_facts(w.session.info.pop(BORN, []), written, clock(w.config))
        ids = {o.id if isinstance(o, Case) else o.case_id for o in written}
        _, sums = await rollup.refresh(
            w.session, {i for i in ids if i is not None and i not in born}, clock(w.config), born
        )
        if sums:
            # The day rows are shared by every unit of the day: lock them last.
            w.at_commit(lambda: rollup.add_sums(w.session, sums))


def _born_facts(born: list[Case], written: list[Any], measure: Clock) -> dict[int, rollup.Fact]:
    """The facts of the cases this unit created, from what it wrote (a new case's every
    timeline entry and answer is among them), so they need not be read back."""
    facts = {}
    for case in born:
        breaches = [
            o.text
            for o in written
            if isinstance(o, CaseEvent) and o.case_id == case.id and o.kind == BREACHED
        ]
        answer = next(
            (
                (o.rating, o.at)
                for o in written
                if isinstance(o, SurveyAnswer) and o.case_id == case.id
            ),
            None,
        )
        facts[case.id] = rollup.fact_of(case, breaches, answer, measure)
    return facts
