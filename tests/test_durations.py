"""Durations: parsing, refusal wording, pydantic use, and business-day arithmetic."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, ValidationError

from bot.durations import Duration, business_seconds, parse_duration

ROME = ZoneInfo("Europe/Rome")
HINT = "does not parse as a duration: use a whole number followed by s, m, h, d or bd"


def rome(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ROME)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "amount", "unit"),
    [("30m", 30, "m"), ("0s", 0, "s"), ("2h", 2, "h"), ("7d", 7, "d"), ("1bd", 1, "bd")],
)
def test_parse(text: str, amount: int, unit: str) -> None:
    d = parse_duration(text)
    assert (d.amount, d.unit, d.text, str(d)) == (amount, unit, text, text)


def test_parse_strips_surrounding_space() -> None:
    assert str(parse_duration(" 2h ")) == "2h"


@pytest.mark.parametrize("text", ["30 minutes", "", "m", "-1m", "1.5h", "1w", "30", "h2", "1 bd"])
def test_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(text)
    assert str(info.value) == f"{text!r} {HINT} (e.g. 30m, 2h, 1bd)"


def test_parse_refuses_non_strings() -> None:
    with pytest.raises(ValueError, match=HINT):
        parse_duration(30)  # type: ignore[arg-type]


def test_built_in_code_gets_its_text_and_equality_ignores_text() -> None:
    assert str(Duration(5, "h")) == "5h"
    assert Duration(5, "h") == parse_duration("5h")
    with pytest.raises(ValueError):
        Duration(1, "w")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Duration(-1, "m")


def test_approx() -> None:
    assert parse_duration("90s").approx() == timedelta(seconds=90)
    assert parse_duration("2h").approx() == timedelta(hours=2)
    assert parse_duration("3bd").approx() == timedelta(days=3)


# ---------------------------------------------------------------- pydantic


class Holder(BaseModel):
    wait: Duration
    maybe: dict[str, Duration] = {}


def test_pydantic_field_accepts_text() -> None:
    h = Holder.model_validate({"wait": "30m", "maybe": {"a": "1bd"}})
    assert h.wait == Duration(30, "m")
    assert h.maybe["a"].unit == "bd"
    assert h.model_dump(mode="json") == {"wait": "30m", "maybe": {"a": "1bd"}}
    assert Holder.model_validate(h.model_dump()) == h


@pytest.mark.parametrize(("value", "shown"), [("30 minutes", "'30 minutes'"), (30, "30")])
def test_pydantic_field_refuses(value: object, shown: str) -> None:
    with pytest.raises(ValidationError) as info:
        Holder.model_validate({"wait": value})
    (error,) = info.value.errors()
    assert error["loc"] == ("wait",)
    assert error["msg"].startswith(f"{shown} {HINT}")


def test_json_schema_describes_the_text_form() -> None:
    schema = Holder.model_json_schema()
    assert schema["properties"]["wait"]["type"] == "string"


# ---------------------------------------------------------------- after


def test_exact_units_add_elapsed_time_and_return_utc() -> None:
    start = utc(2026, 11, 2, 9)
    assert parse_duration("30m").after(start, ROME) == utc(2026, 11, 2, 9, 30)
    assert parse_duration("0s").after(start, ROME) == start
    result = parse_duration("1d").after(rome(2026, 10, 24, 10), ROME)
    # 24 real hours across the October change: 09:00 local on Sunday.
    assert result == utc(2026, 10, 25, 8)
    assert result.tzinfo is UTC


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError):
        parse_duration("1bd").after(datetime(2026, 11, 2, 9), ROME)


def test_business_days_skip_the_weekend() -> None:
    one, two = parse_duration("1bd"), parse_duration("2bd")
    assert one.after(rome(2026, 11, 6, 10), ROME) == rome(2026, 11, 9, 10)  # Fri -> Mon
    assert two.after(rome(2026, 11, 5, 10), ROME) == rome(2026, 11, 9, 10)  # Thu -> Mon
    assert one.after(rome(2026, 11, 2, 10), ROME) == rome(2026, 11, 3, 10)  # Mon -> Tue
    assert parse_duration("5bd").after(rome(2026, 11, 4, 10), ROME) == rome(2026, 11, 11, 10)


def test_business_days_from_a_weekend_count_from_monday_midnight() -> None:
    one = parse_duration("1bd")
    assert one.after(rome(2026, 11, 7, 15), ROME) == rome(2026, 11, 10, 0)  # Sat -> Tue 00:00
    assert one.after(rome(2026, 11, 8, 23, 59), ROME) == rome(2026, 11, 10, 0)  # Sun
    assert parse_duration("0bd").after(rome(2026, 11, 8, 12), ROME) == rome(2026, 11, 9, 0)


def test_business_days_use_the_local_date() -> None:
    # Friday 23:30 UTC is already Saturday 00:30 in Rome: a weekend start.
    result = parse_duration("1bd").after(utc(2026, 11, 6, 23, 30), ROME)
    assert result == rome(2026, 11, 10, 0)


def test_business_days_keep_local_time_across_dst() -> None:
    one = parse_duration("1bd")
    # Autumn: Fri 23 Oct 10:00 CEST (08:00 UTC) -> Mon 26 Oct 10:00 CET (09:00 UTC).
    assert one.after(utc(2026, 10, 23, 8), ROME) == utc(2026, 10, 26, 9)
    # Spring: Fri 27 Mar 10:00 CET (09:00 UTC) -> Mon 30 Mar 10:00 CEST (08:00 UTC).
    assert one.after(utc(2026, 3, 27, 9), ROME) == utc(2026, 3, 30, 8)


# -- business time, as the reports measure it --------------------------------------------


def test_business_seconds_leave_out_the_weekend_in_the_support_time_zone() -> None:
    rome = ZoneInfo("Europe/Rome")
    friday_5pm = datetime(2026, 11, 27, 17, 0, tzinfo=rome)
    monday_9am = datetime(2026, 11, 30, 9, 0, tzinfo=rome)
    assert business_seconds(friday_5pm, monday_9am, rome) == 16 * 3600
    # Opened and answered on a weekend: no business time passed.
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=rome)
    assert business_seconds(saturday, saturday + timedelta(hours=30), rome) == 0
    assert business_seconds(saturday, monday_9am, rome) == 9 * 3600
    # Thirty days from a Monday hold four weekends.
    start = datetime(2026, 11, 2, tzinfo=UTC)
    assert business_seconds(start, start + timedelta(days=30), ZoneInfo("UTC")) == 22 * 86400
    # The weekend is the local one: in New York it starts at 05:00 UTC on Saturday.
    ny = ZoneInfo("America/New_York")
    fri = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert business_seconds(fri, fri + timedelta(days=1), ny) == 19 * 3600
    # Backwards counts nothing; naive times are UTC; fractions are floored.
    assert business_seconds(monday_9am, friday_5pm, rome) == 0
    naive = datetime(2026, 11, 30, 9, 0)
    assert business_seconds(naive, naive + timedelta(seconds=90.9), ny) == 90


@pytest.mark.parametrize("text", ["1bd", "3bd", "5bd", "15bd"])
@pytest.mark.parametrize("zone", ["UTC", "Europe/Rome", "America/New_York", "Asia/Tokyo"])
def test_a_business_day_target_is_that_many_business_days_long(text: str, zone: str) -> None:
    """What the SLA clock's due time and the reports' durations agree on: from any
    weekday start, ``Nbd`` later is N × 24 business hours (a daylight-saving change
    inside it moves the wall clock, not the count, by an hour)."""
    tz = ZoneInfo(zone)
    d = parse_duration(text)
    # Weekdays of two weeks before Europe's daylight-saving changes, and one after.
    days = [(3, n) for n in range(23, 28)] + [(10, n) for n in range(19, 24)] + [(11, 2)]
    for month, day in days:
        start = datetime(2026, month, day, 10, 30, tzinfo=tz)
        got = business_seconds(start, d.after(start, tz), tz)
        assert abs(got - d.amount * 86400) <= 3600, (start, got)
        if zone in ("UTC", "Asia/Tokyo"):  # no daylight saving: exact
            assert got == d.amount * 86400, (start, got)
