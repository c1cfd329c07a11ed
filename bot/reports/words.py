"""How report figures are said: durations, shares, the labels of targets, states and
ages, and the headline text of ``/case stats``. The dashboard's pages and CSV use the
same words, so a figure reads the same on every surface."""

from __future__ import annotations

from bot.lifecycle import STATE_WORDS, State
from bot.reports.figures import Report, Spread, Target
from bot.sla import LABELS
from bot.templates import count

NOTHING = "—"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return NOTHING
    m = int(round(seconds) // 60)
    if m >= 48 * 60:
        return f"{m // 1440}d {m % 1440 // 60}h"
    return f"{m // 60}h {m % 60:02d}m"


def share(value: float | None) -> str:
    return NOTHING if value is None else f"{value * 100:.0f}%"


def target_label(name: str) -> str:
    return LABELS.get(name, name)


def state_label(state: str) -> str:
    try:
        return STATE_WORDS[State(state)]
    except ValueError:
        return state


def business_note(s: Spread) -> str:
    """Which severities a duration counts in business time, or nothing."""
    if not s.business:
        return ""
    return f"business days (Mon–Fri) for {', '.join(s.business)}"


def spread_line(label: str, s: Spread) -> str:
    if not s.count:
        return f"{label}: nothing measured"
    note = business_note(s)
    return (
        f"{label}: median {duration(s.median)}, 90th percentile {duration(s.p90)}"
        f" ({count(s.count, 'case')}{'; ' + note if note else ''})"
    )


def target_text(t: Target) -> str:
    return f"{target_label(t.name).lower()} {share(t.attainment)} met" + (
        f" ({t.breached} breached)" if t.breached else ""
    )


def headline(r: Report) -> str:
    lines = [
        f"Support, {r.period.label}:",
        f"Opened {r.opened} · resolved {r.resolved} · closed {r.closed}",
        spread_line("First response", r.first_response),
        spread_line("Time to resolution", r.resolution),
    ]
    measured = [t for t in r.targets if t.met + t.breached]
    if measured:
        lines.append("Service levels: " + ", ".join(target_text(t) for t in measured))
    b = r.backlog
    lines.append(
        f"Backlog: {b.total} open — {b.on_us} waiting on us, "
        f"{b.on_customer} waiting on the customer"
    )
    s = r.satisfaction
    if s.answers:
        low = ", ".join(f"{x.case_key} ({x.rating})" for x in s.low[:5])
        lines.append(
            f"Survey: {s.average:.1f}/5 over {count(s.answers, 'answer')}"
            f" (response rate {share(s.response_rate)})" + (f"; low scores: {low}" if low else "")
        )
    else:
        lines.append("Survey: no answers")
    d = r.deflection
    lines.append(
        f"Resolved by the knowledge base: {d.deflected} of {d.opened} opened ({share(d.rate)})"
    )
    return "\n".join(lines)
