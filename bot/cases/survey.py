"""After a case: the satisfaction survey (with an alert on a low score) and feedback
on casebot itself."""

from __future__ import annotations

from sqlalchemy import select

from bot import templates as t
from bot.actors import Actor
from bot.errors import Refusal
from bot.lifecycle import State
from bot.messages import Kind
from bot.policy import Deed
from bot.work import Work
from storage.models import Case, Feedback, SurveyAnswer


def ask_survey(w: Work, case: Case) -> None:
    """Put the survey to the customer: when a case is resolved (confirmed, or solved by
    an article). Not after a withdraw, an unresponsive close or a duplicate: the
    customer did not see the work through (they left, or were not there), and the
    seed sends the survey as "the last step in the life cycle"; such a case can still
    come back, and the survey comes if it is resolved then."""
    url = w.links.transcript(case.opener_id, case.key) if w.links is not None else None
    w.notify(t.survey_prompt(w.config, case, url), case)


async def survey(w: Work, actor: Actor, key: str, rating: int, comment: str) -> str:
    case = await w.case(key)
    w.require(actor, Deed.SURVEY, case)
    if case.state not in (State.RESOLVED, State.CLOSED):
        raise Refusal(f"{case.key} is not resolved yet; the survey comes when it is.")
    if not 1 <= rating <= 5:
        raise Refusal("The rating is a number from 1 to 5.")
    existing = await answer_of(w, case)
    if existing is not None:
        if comment.strip() and not existing.comment:
            existing.comment = comment.strip()
            w.event(case, actor, "survey_comment", comment.strip())
            await low_score_alert(w, case, existing.rating, comment.strip(), actor)
            return "Thanks for the comment."
        raise Refusal(f"You've already rated {case.key} ({existing.rating}/5). Thank you!")
    w.session.add(
        SurveyAnswer(
            case_id=case.id, person_id=actor.id, rating=rating, comment=comment.strip(), at=w.now
        )
    )
    w.event(case, actor, "survey_answered", f"{rating}/5 {comment.strip()}".strip())
    await low_score_alert(w, case, rating, comment.strip(), actor)
    return f"Thanks for rating {case.key} {rating}/5."


async def survey_comment(w: Work, actor: Actor, key: str, comment: str) -> str:
    """A comment after the rating (the survey's second step)."""
    case = await w.case(key)
    w.require(actor, Deed.SURVEY, case)
    existing = await answer_of(w, case)
    if existing is None:
        raise Refusal(f"Rate {case.key} first.")
    return await survey(w, actor, key, existing.rating, comment)


async def answer_of(w: Work, case: Case) -> SurveyAnswer | None:
    """The survey answer given for ``case``, if any."""
    return (
        await w.session.scalars(select(SurveyAnswer).where(SurveyAnswer.case_id == case.id))
    ).one_or_none()


async def low_score_alert(w: Work, case: Case, rating: int, comment: str, actor: Actor) -> None:
    """Tell the account's CSM (or the leads) about a rating at or under the low score."""
    if rating > w.config.survey.low_score:
        return
    csm = w.config.csm_for(case.account_key)
    targets = [csm.id] if csm else [p.id for p in w.config.leads()]
    for pid in targets:
        alert = t.to_person(
            pid,
            case,
            f"Low survey score on {case.key}: {rating}/5 from {actor.name}",
            comment or "(no comment)",
            Kind.ALERT,
            ping=True,
        )
        # One alert per answer: a comment given after the rating edits it in place.
        alert.ref = f"low-score:{case.key}:{pid}"
        alert.update = bool(comment)
        w.notify(alert, case)


async def feedback(w: Work, actor: Actor, text: str) -> str:
    w.require(actor, Deed.FEEDBACK)
    if not text.strip():
        raise Refusal("Tell us what you think: `/case feedback <text>`.")
    w.session.add(
        Feedback(person_id=actor.id, account_key=actor.account_key, text=text.strip(), at=w.now)
    )
    for lead in w.config.leads():
        msg = t.to_person(lead.id, None, f"Feedback from {actor.name}", text.strip(), Kind.ALERT)
        msg.platform = actor.platform
        w.notify(msg)
    return "Thank you for your feedback; the support lead reads every message."
