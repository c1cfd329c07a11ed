"""The configuration layer: examples load, every cross-check reports its exact key path,
all errors come out together, unknown keys warn, and the lookups answer correctly."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.config import (
    DEFAULT_CONFIG_PATH,
    Config,
    ConfigError,
    Person,
    Shift,
    check_config,
    config_path_from_env,
    load_config,
    parse_config,
)
from bot.durations import Duration

ROOT = Path(__file__).resolve().parent.parent
SHARED_EXAMPLE = Path("/work/shared/examples/casebot.yml")
OUR_EXAMPLE = ROOT / "examples" / "casebot.yml"
ROME = ZoneInfo("Europe/Rome")
DURATION_HINT = (
    "does not parse as a duration: use a whole number followed by s, m, h, d or bd "
    "(e.g. 30m, 2h, 1bd)"
)

BASE: dict[str, Any] = {
    "support": {"name": "Test Support", "timezone": "Europe/Rome"},
    "priority": {"tier_weight": {"enterprise": 3, "standard": 1}},
    "teams": [
        {
            "key": "platform",
            "name": "Platform",
            "channels": {"slack": "C1", "discord": 111},
            "staff_channels": {"discord": 112},
        },
        {"key": "billing", "name": "Billing", "channels": {"slack": "C2"}},
        {"key": "engineering", "name": "Engineering"},
    ],
    "product_areas": [
        {"key": "api", "name": "API", "team": "platform", "keywords": ["api", "rate limit"]},
        {"key": "install", "name": "Install", "team": "platform", "keywords": ["install", "helm"]},
        {"key": "billing", "name": "Billing", "team": "billing", "keywords": ["invoice"]},
    ],
    "people": [
        {
            "id": "alice",
            "name": "Alice",
            "role": "engineer",
            "team": "platform",
            "skills": {"api": 5, "install": 2},
            "identities": {"slack": "U1", "discord": 900000000000000201},
        },
        {
            "id": "bruno",
            "name": "Bruno",
            "role": "engineer",
            "team": "platform",
            "skills": {"api": 3, "install": 5},
            "identities": {"slack": "U2", "email": "Bruno@Example.com"},
        },
        {
            "id": "chiara",
            "name": "Chiara",
            "role": "engineer",
            "team": "billing",
            "skills": {"billing": 4},
            "identities": {"slack": "U3"},
        },
        {"id": "dana", "name": "Dana", "role": "csm", "identities": {"slack": "U4"}},
        {"id": "lee", "name": "Lee", "role": "lead", "identities": {"slack": "U5"}},
        {
            "id": "gus",
            "name": "Gus",
            "role": "customer",
            "account": "globex",
            "identities": {"slack": "U6"},
        },
        {
            "id": "ivy",
            "name": "Ivy",
            "role": "customer",
            "account": "initech",
            "identities": {"discord": "900000000000000302"},
        },
    ],
    "accounts": [
        {
            "key": "globex",
            "name": "Globex",
            "tier": "enterprise",
            "csm": "dana",
            "channels": {"slack": "CG"},
        },
        {
            "key": "initech",
            "name": "Initech",
            "tier": "standard",
            "csm": "lee",
            "discord_role": 900000000000000401,
        },
    ],
}


def data() -> dict[str, Any]:
    return copy.deepcopy(BASE)


def parse(d: dict[str, Any]) -> Config:
    return parse_config(yaml.safe_dump(d, sort_keys=False), "test.yml")


def errors_of(d: dict[str, Any] | str) -> list[str]:
    text = d if isinstance(d, str) else yaml.safe_dump(d, sort_keys=False)
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.yml")
    assert info.value.source == "test.yml"
    return info.value.errors


def person(d: dict[str, Any], pid: str) -> dict[str, Any]:
    return next(p for p in d["people"] if p["id"] == pid)


def account(d: dict[str, Any], key: str) -> dict[str, Any]:
    return next(a for a in d["accounts"] if a["key"] == key)


# ---------------------------------------------------------------- the examples


@pytest.mark.skipif(not SHARED_EXAMPLE.exists(), reason="shared example file is absent")
def test_shared_example_loads() -> None:
    config = load_config(SHARED_EXAMPLE)
    # Its only warnings: Discord staff threads would sit where its customers can read them.
    assert config.warnings and all(".staff_channels.discord: not set" in w for w in config.warnings)
    assert config.source == str(SHARED_EXAMPLE)
    assert config.support.tz == ROME
    assert [p.id for p in config.engineers()] == ["alice", "bruno", "chiara"]
    assert config.chase[-1].action == "close_unresponsive"
    assert config.sla.first_response["S4"] == Duration(1, "bd")
    assert config.engineering_team() is not None
    assert config.engineering_team().key == "engineering"  # type: ignore[union-attr]


def test_our_example_loads_with_the_demo_ids() -> None:
    config = load_config(OUR_EXAMPLE)
    assert config.warnings == []
    assert check_config(config) == []
    gus, ivy = config.person("gus"), config.person("ivy")
    assert gus is not None and gus.account == "globex"
    assert ivy is not None and ivy.account == "initech"
    assert config.account("globex").tier == "enterprise"  # type: ignore[union-attr]
    assert config.account("initech").tier == "standard"  # type: ignore[union-attr]
    assert config.person("alice").skills == {"api": 5, "install": 2}  # type: ignore[union-attr]
    assert config.person("bruno").skills == {"api": 3, "install": 5}  # type: ignore[union-attr]
    assert config.person("chiara").team == "billing"  # type: ignore[union-attr]
    assert config.person("dana").role == "csm"  # type: ignore[union-attr]
    assert config.person("lee").role == "lead"  # type: ignore[union-attr]
    assert {"platform", "billing", "engineering"} <= {t.key for t in config.teams}
    assert {"api", "install", "billing"} <= {a.key for a in config.product_areas}
    assert len(config.product_areas) >= 4
    # The demo clock: every engineer able to take the demo's cases is on shift.
    demo = datetime(2026, 11, 2, 9, tzinfo=UTC)
    assert all(p.on_shift(demo, config.support.tz) for p in config.engineers())
    assert config.account("globex").channels.get("slack")  # type: ignore[union-attr]
    assert config.account("initech").discord_role  # type: ignore[union-attr]
    assert config.engineering_team().key == "engineering"  # type: ignore[union-attr]


def test_default_path_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CASEBOT_CONFIG", raising=False)
    assert config_path_from_env() == Path(DEFAULT_CONFIG_PATH)
    monkeypatch.setenv("CASEBOT_CONFIG", "/etc/casebot.yml")
    assert config_path_from_env() == Path("/etc/casebot.yml")


def test_small_config_gets_defaults() -> None:
    d = data()
    del d["priority"]
    config = parse(d)
    assert set(config.impacts) == {"production_down", "degraded", "blocked", "question"}
    assert config.impacts["production_down"].severity == "S1"
    assert set(config.case_types) == {"functionality", "broken", "api", "install"}
    assert config.priority.severity_weight == {"S1": 8, "S2": 4, "S3": 2, "S4": 1}
    assert config.chase == []
    assert str(config.support.reopen_window) == "7d"
    assert str(config.support.knowledge_wait) == "15m"
    assert str(config.escalation.acknowledge_within) == "2h"
    assert config.sla.warn_at == 0.8
    assert config.survey.low_score == 2
    assert config.source == "test.yml"


def test_an_empty_section_means_the_default() -> None:
    config = parse_config(yaml.safe_dump(data()) + "chase:\n")
    assert config.chase == []


# ---------------------------------------------------------------- cross-checks


def test_duplicate_keys_and_ids() -> None:
    d = data()
    d["teams"].append({"key": "platform", "name": "Again"})
    d["product_areas"].append({"key": "api", "name": "Again", "team": "platform"})
    d["people"].append({"id": "alice", "name": "Again", "role": "lead", "identities": {"x": 1}})
    d["accounts"].append({"key": "globex", "name": "Again", "tier": "standard"})
    assert errors_of(d) == [
        "teams[3] (platform).key: duplicate key 'platform' (also teams[0])",
        "product_areas[3] (api).key: duplicate key 'api' (also product_areas[0])",
        "people[7] (alice).id: duplicate id 'alice' (also people[0])",
        "accounts[2] (globex).key: duplicate key 'globex' (also accounts[0])",
    ]


def test_product_area_team_unknown() -> None:
    d = data()
    d["product_areas"][2]["team"] = "money"
    assert errors_of(d) == [
        "product_areas[2] (billing).team: unknown team 'money' "
        "(known: platform, billing, engineering)"
    ]


def test_person_team_unknown() -> None:
    d = data()
    person(d, "bruno")["team"] = "plat"
    assert errors_of(d) == [
        "people[1] (bruno).team: unknown team 'plat' (known: platform, billing, engineering)"
    ]


def test_skill_in_unknown_area() -> None:
    d = data()
    person(d, "chiara")["skills"] = {"bilin": 4}
    assert errors_of(d) == [
        "people[2] (chiara).skills.bilin: unknown product area 'bilin' "
        "(known: api, install, billing)"
    ]


@pytest.mark.parametrize("level", [0, 6])
def test_skill_level_out_of_range(level: int) -> None:
    d = data()
    person(d, "alice")["skills"]["api"] = level
    assert errors_of(d) == [
        f"people[0] (alice).skills.api: skill level must be 1 to 5 (got {level})"
    ]


def test_capacity_below_one() -> None:
    d = data()
    person(d, "bruno")["capacity"] = 0
    assert errors_of(d) == ["people[1] (bruno).capacity: must be at least 1 (got 0)"]


def test_person_without_identities() -> None:
    d = data()
    person(d, "dana")["identities"] = {}
    assert errors_of(d) == [
        "people[3] (dana).identities: none given: add at least one (slack, discord or email) "
        "so casebot can recognise this person"
    ]


def test_customer_without_account_or_with_unknown_account() -> None:
    d = data()
    del person(d, "gus")["account"]
    person(d, "ivy")["account"] = "initek"
    assert errors_of(d) == [
        "people[5] (gus).account: a customer needs an account (known: globex, initech)",
        "people[6] (ivy).account: unknown account 'initek' (known: globex, initech)",
    ]


def test_account_csm_unknown_or_not_a_csm() -> None:
    d = data()
    account(d, "globex")["csm"] = "zed"
    account(d, "initech")["csm"] = "alice"
    assert errors_of(d) == [
        "accounts[0] (globex).csm: unknown person 'zed' (CSMs and leads: dana, lee)",
        "accounts[1] (initech).csm: 'alice' is an engineer, not a csm or lead",
    ]
    d = data()
    account(d, "globex")["csm"] = "gus"
    assert errors_of(d) == ["accounts[0] (globex).csm: 'gus' is a customer, not a csm or lead"]


def test_a_lead_may_be_a_csm() -> None:
    config = parse(data())
    assert config.csm_for("initech").id == "lee"  # type: ignore[union-attr]
    assert config.csm_for("globex").id == "dana"  # type: ignore[union-attr]
    assert config.csm_for("nowhere") is None


def test_tier_must_be_weighted_when_weights_are_given() -> None:
    d = data()
    account(d, "initech")["tier"] = "gold"
    assert errors_of(d) == [
        "accounts[1] (initech).tier: unknown tier 'gold' "
        "(priority.tier_weight has: enterprise, standard)"
    ]
    del d["priority"]  # no weights: any tier is fine
    assert parse(d).account("initech").tier == "gold"  # type: ignore[union-attr]


def test_engineering_team_unknown() -> None:
    d = data()
    d["support"]["engineering_team"] = "eng"
    assert errors_of(d) == [
        "support.engineering_team: unknown team 'eng' (known: platform, billing, engineering)"
    ]


def test_same_identity_twice_even_int_vs_str() -> None:
    d = data()
    person(d, "bruno")["identities"]["discord"] = "900000000000000201"  # alice's, as text
    person(d, "lee")["identities"]["email"] = "bruno@example.com"  # case differs
    assert errors_of(d) == [
        "people[1] (bruno).identities.discord: '900000000000000201' is already used by "
        "people[0] (alice)",
        "people[4] (lee).identities.email: 'bruno@example.com' is already used by "
        "people[1] (bruno)",
    ]


def test_shared_phone_is_not_a_conflict() -> None:
    d = data()
    person(d, "gus")["identities"]["phone"] = "+1 555 0100"
    person(d, "ivy")["identities"]["phone"] = "+1 555 0100"
    parse(d)


def test_account_channels_and_roles_are_not_shared() -> None:
    d = data()
    account(d, "initech")["channels"] = {"slack": "CG"}
    d["accounts"].append(
        {"key": "acme", "name": "Acme", "discord_role": "900000000000000401", "tier": "standard"}
    )
    assert errors_of(d) == [
        "accounts[1] (initech).channels.slack: 'CG' is already used by accounts[0] (globex)",
        "accounts[2] (acme).discord_role: '900000000000000401' is already used by "
        "accounts[1] (initech)",
    ]


def test_close_unresponsive_must_be_last() -> None:
    d = data()
    d["chase"] = [
        {"after": "1bd", "action": "close_unresponsive"},
        {"after": "2bd", "action": "remind"},
    ]
    assert errors_of(d) == [
        "chase[0].action: close_unresponsive must be the last step (it ends the chase)"
    ]


def test_bad_impact_severity_and_bad_role() -> None:
    d = data()
    d["impacts"] = {"outage": {"label": "Outage", "severity": "S0"}}
    person(d, "dana")["role"] = "admin"
    assert errors_of(d) == [
        "impacts.outage.severity: input should be 'S1', 'S2', 'S3' or 'S4' (got 'S0')",
        "people[3] (dana).role: input should be 'customer', 'engineer', 'csm' or 'lead' "
        "(got 'admin')",
    ]


def test_bad_durations_name_their_path() -> None:
    d = data()
    d["sla"] = {"first_response": {"S1": "30 minutes"}, "resolution": {"S9": "1d"}}
    d["chase"] = [{"after": 30, "action": "remind"}]
    assert errors_of(d) == [
        f"chase[0].after: 30 {DURATION_HINT}",
        f"sla.first_response.S1: '30 minutes' {DURATION_HINT}",
        "sla.resolution.S9: not a valid key: input should be 'S1', 'S2', 'S3' or 'S4' (got 'S9')",
    ]


def test_bad_time_zones() -> None:
    d = data()
    d["support"]["timezone"] = "Mars/Olympus"
    person(d, "alice")["shift"] = {"timezone": "Europe"}
    assert errors_of(d) == [
        "support.timezone: unknown time zone 'Mars/Olympus': use an IANA name such as UTC, "
        "Europe/Rome or America/New_York",
        "people[0] (alice).shift.timezone: unknown time zone 'Europe': use an IANA name "
        "such as UTC, Europe/Rome or America/New_York",
    ]


def test_bad_shift_formats() -> None:
    d = data()
    person(d, "alice")["shift"] = {"days": "mon-fry", "hours": "8-18"}
    person(d, "bruno")["shift"] = {"hours": "25:00-26:00"}
    person(d, "chiara")["shift"] = {"hours": "09:00-09:00"}
    assert errors_of(d) == [
        "people[0] (alice).shift.days: 'mon-fry' is not a list of days: write e.g. mon-fri, "
        "mon,wed,fri or sat-sun (days: mon tue wed thu fri sat sun)",
        "people[0] (alice).shift.hours: '8-18' is not a range of hours: write HH:MM-HH:MM, "
        "e.g. 08:00-18:00, or 22:00-06:00 for a night shift",
        "people[1] (bruno).shift.hours: '25:00-26:00': hours run from 00:00 to 24:00",
        "people[2] (chiara).shift.hours: '09:00-09:00' starts and ends at the same time: "
        "for all day use 00:00-24:00",
    ]


def test_missing_fields_and_wrong_types() -> None:
    d = data()
    del d["teams"]
    del person(d, "bruno")["name"]
    person(d, "chiara")["capacity"] = "lots"
    assert errors_of(d) == [
        "teams: required but missing",
        "people[1] (bruno).name: required but missing",
        "people[2] (chiara).capacity: input should be a valid integer, unable to parse string "
        "as an integer (got 'lots')",
    ]


def test_all_errors_are_collected_together() -> None:
    d = data()
    d["sla"] = {"warn_at": 0}  # a type/range error ...
    person(d, "bruno")["capacity"] = "many"  # ... on an entry that cannot be used
    person(d, "chiara")["skills"] = {"bilin": 9}  # two cross-check errors on one skill
    account(d, "globex")["csm"] = "alice"
    account(d, "initech")["csm"] = "bruno"  # bruno is unreadable: not reported again
    d["support"]["engineering_team"] = "eng"
    d["chase"] = [
        {"after": "1d", "action": "close_unresponsive"},
        {"after": "x", "action": "phone"},
    ]
    errors = errors_of(d)
    assert errors == [
        "people[1] (bruno).capacity: input should be a valid integer, unable to parse string "
        "as an integer (got 'many')",
        f"chase[1].after: 'x' {DURATION_HINT}",
        "sla.warn_at: input should be greater than 0 (got 0)",
        "support.engineering_team: unknown team 'eng' (known: platform, billing, engineering)",
        "people[2] (chiara).skills.bilin: unknown product area 'bilin' "
        "(known: api, install, billing)",
        "people[2] (chiara).skills.bilin: skill level must be 1 to 5 (got 9)",
        "accounts[0] (globex).csm: 'alice' is an engineer, not a csm or lead",
        "chase[0].action: close_unresponsive must be the last step (it ends the chase)",
    ]
    with pytest.raises(ConfigError) as info:
        parse(d)
    text = str(info.value)
    assert text.startswith("test.yml: 8 configuration errors:\n")
    assert all(f"\n  {e}" in text for e in errors)


def test_unknown_keys_are_warnings_not_errors() -> None:
    d = data()
    d["colour"] = "blue"
    d["support"]["motto"] = "hi"
    person(d, "chiara")["nickname"] = "kiki"
    d["teams"][0]["channels"]["slack"] = "C1"
    d["sla"] = {"first_response": {"S1": "30m"}, "breach": "loud"}
    d["chase"] = [{"after": "1bd", "action": "remind", "tone": "polite"}]
    config = parse(d)
    assert config.warnings == [
        "support.motto: unknown key, ignored",
        "people[2] (chiara).nickname: unknown key, ignored",
        "colour: unknown key, ignored",
        "sla.breach: unknown key, ignored",
        "chase[0].tone: unknown key, ignored",
        "sla.first_response: no target for S2, S3, S4, so those cases are never warned "
        "about or escalated for time",
        "sla.resolution: no target for S1, S2, S3, S4, so those cases are never warned "
        "about or escalated for time",
    ]


def test_engineer_without_skills_is_a_warning() -> None:
    d = data()
    del person(d, "chiara")["skills"]
    assert parse(d).warnings[:2] == [
        "people[2] (chiara).skills: none given, so this engineer is never auto-assigned",
        "product_areas[2] (billing): no engineer has a skill in it, so its cases are never "
        "auto-assigned (add it to someone's skills)",
    ]


def test_duplicate_yaml_keys_are_errors() -> None:
    text = yaml.safe_dump(data(), sort_keys=False) + "survey: {low_score: 1}\nsurvey: {}\n"
    line = text.count("\n") - 1
    assert errors_of(text) == [
        f"line {line + 1}: duplicate key 'survey' (YAML would keep only the last one)"
    ]


# ---------------------------------------------------------------- files


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yml")
    assert info.value.errors == [
        f"file not found: {tmp_path / 'nope.yml'} (set CASEBOT_CONFIG to the path of your "
        "casebot.yml)"
    ]


def test_yaml_syntax_error_has_a_line_number(tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text("support:\n  name: x\n  timezone: [UTC\nteams: []\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    (error,) = info.value.errors
    assert error.startswith("line 4, column 6: not valid YAML:")
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("text", "start"),
    [("", "the file is empty"), ("- a\n- b\n", "the top level must be a mapping")],
)
def test_not_a_mapping(text: str, start: str) -> None:
    (error,) = errors_of(text)
    assert error.startswith(start)


# ---------------------------------------------------------------- shifts


def at(day: int, hour: int, minute: int = 0, tz: ZoneInfo = ROME) -> datetime:
    """A time in the week of Monday 2 November 2026 (day 0 = Monday)."""
    return datetime(2026, 11, 2 + day, hour, minute, tzinfo=tz)


def test_day_shift() -> None:
    shift = Shift(days="mon-fri", hours="08:00-18:00")
    assert shift.on_shift(at(0, 8), ROME)
    assert shift.on_shift(at(4, 17, 59), ROME)
    assert not shift.on_shift(at(4, 18), ROME)  # the end is exclusive
    assert not shift.on_shift(at(0, 7, 59), ROME)
    assert not shift.on_shift(at(5, 12), ROME)  # Saturday
    # Given in UTC, judged in the shift's zone: 07:30 UTC is 08:30 in Rome.
    assert shift.on_shift(datetime(2026, 11, 2, 7, 30, tzinfo=UTC), ROME)


def test_day_lists() -> None:
    mwf = Shift(days="mon,wed,fri")
    assert [mwf.on_shift(at(d, 12), ROME) for d in range(7)] == [1, 0, 1, 0, 1, 0, 0]
    weekend = Shift(days="sat-sun")
    assert [weekend.on_shift(at(d, 12), ROME) for d in range(7)] == [0, 0, 0, 0, 0, 1, 1]
    wrap = Shift(days="Fri-Mon")
    assert [wrap.on_shift(at(d, 12), ROME) for d in range(7)] == [1, 0, 0, 0, 1, 1, 1]
    assert all(Shift(days="mon-sun").on_shift(at(d, 0), ROME) for d in range(7))


def test_overnight_shift_belongs_to_the_day_it_starts() -> None:
    night = Shift(days="mon-fri", hours="22:00-06:00")
    assert night.on_shift(at(4, 23), ROME)  # Friday night
    assert night.on_shift(at(5, 5, 59), ROME)  # Saturday morning: Friday's shift
    assert not night.on_shift(at(5, 6), ROME)
    assert not night.on_shift(at(5, 23), ROME)  # Saturday night: no shift
    assert not night.on_shift(at(0, 3), ROME)  # Monday morning: Sunday had no shift
    assert night.on_shift(at(1, 3), ROME)  # Tuesday morning: Monday's shift
    assert not night.on_shift(at(2, 12), ROME)


def test_shift_timezone_overrides_the_default() -> None:
    ny = Shift(days="mon-fri", hours="09:00-17:00", timezone="America/New_York")
    assert ny.on_shift(datetime(2026, 11, 2, 14, 30, tzinfo=UTC), ROME)  # 09:30 in New York
    assert not ny.on_shift(datetime(2026, 11, 2, 13, 30, tzinfo=UTC), ROME)  # 08:30


def test_person_without_shift_is_always_on() -> None:
    p = Person(id="x", name="X", role="engineer")
    assert p.on_shift(at(6, 3), ROME)
    assert p.is_staff
    assert not Person(id="y", name="Y", role="customer").is_staff


def test_shift_in_config_uses_support_timezone() -> None:
    d = data()
    d["support"]["timezone"] = "America/New_York"
    person(d, "alice")["shift"] = {"days": "mon-fri", "hours": "09:00-17:00"}
    config = parse(d)
    alice = config.person("alice")
    assert alice is not None
    assert not alice.on_shift(datetime(2026, 11, 2, 9, tzinfo=UTC), config.support.tz)
    assert alice.on_shift(datetime(2026, 11, 2, 15, tzinfo=UTC), config.support.tz)


# ---------------------------------------------------------------- lookups


def test_person_by_identity_with_int_or_str_snowflakes() -> None:
    config = parse(data())
    # alice's discord id was written as an int, ivy's as a string: both work either way.
    assert config.person("alice").identities["discord"] == "900000000000000201"  # type: ignore[union-attr]
    assert config.person_by_identity("discord", "900000000000000201").id == "alice"  # type: ignore[union-attr]
    assert config.person_by_identity("discord", 900000000000000201).id == "alice"  # type: ignore[union-attr]
    assert config.person_by_identity("discord", 900000000000000302).id == "ivy"  # type: ignore[union-attr]
    assert config.person_by_identity("slack", "U2").id == "bruno"  # type: ignore[union-attr]
    assert config.person_by_identity("email", "bruno@example.COM").id == "bruno"  # type: ignore[union-attr]
    assert config.person_by_identity("console", "gus").id == "gus"  # type: ignore[union-attr]
    assert config.person_by_identity("console", "U1") is None
    assert config.person_by_identity("slack", "nobody") is None
    assert config.person("nobody") is None


def test_accounts_by_channel_and_role() -> None:
    config = parse(data())
    assert config.account_for_channel("slack", "CG").key == "globex"  # type: ignore[union-attr]
    assert config.account_for_channel("discord", "CG") is None
    assert config.account_for_roles(["1", "900000000000000401"]).key == "initech"  # type: ignore[union-attr]
    assert config.account_for_roles([900000000000000401]).key == "initech"  # type: ignore[union-attr]
    assert config.account_for_roles([]) is None


def test_simple_lookups() -> None:
    config = parse(data())
    assert [p.id for p in config.engineers()] == ["alice", "bruno", "chiara"]
    assert [p.id for p in config.leads()] == ["lee"]
    assert config.team("billing").name == "Billing"  # type: ignore[union-attr]
    assert config.area("install").team == "platform"  # type: ignore[union-attr]
    assert config.team_for_area("billing").key == "billing"  # type: ignore[union-attr]
    assert config.account("initech").discord_role == "900000000000000401"  # type: ignore[union-attr]
    assert config.team("platform").channels["discord"] == "111"  # type: ignore[union-attr]
    assert config.platforms_in_use() == {"slack", "discord"}


def test_engineering_team_fallbacks() -> None:
    d = data()
    d["support"]["engineering_team"] = "billing"
    assert parse(d).engineering_team().key == "billing"  # type: ignore[union-attr]
    d = data()
    assert parse(d).engineering_team().key == "engineering"  # type: ignore[union-attr]
    d["teams"][2]["key"] = "rnd"
    assert parse(d).engineering_team().key == "rnd"  # type: ignore[union-attr]
    d["teams"].pop()
    assert parse(d).engineering_team() is None


def test_suggest_area() -> None:
    config = parse(data())
    assert config.suggest_area("The API returns 500") is config.area("api")
    assert config.suggest_area("hit the RATE   LIMIT while upgrading with helm install") is (
        config.area("install")  # two install hits beat one api hit
    )
    assert config.suggest_area("api install") is config.area("api")  # tie: config order
    assert config.suggest_area("my invoice") is config.area("billing")
    assert config.suggest_area("rapid installs of apis") is None  # whole words only
    assert config.suggest_area("") is None


def test_severity_for() -> None:
    config = parse(data())
    assert config.severity_for("blocked", "standard") == "S3"
    assert config.severity_for("blocked", "enterprise") == "S2"
    assert config.severity_for("degraded", "enterprise") == "S1"
    assert config.severity_for("production_down", "enterprise") == "S1"
    assert config.severity_for("question", "enterprise") == "S4"
    assert config.severity_for("blocked", "unknown-tier") == "S3"
    with pytest.raises(KeyError):
        config.severity_for("nope", "standard")


def test_severity_for_needs_a_distinct_top_tier() -> None:
    d = data()
    d["priority"] = {"tier_weight": {"enterprise": 3}}
    account(d, "initech")["tier"] = "enterprise"
    assert parse(d).severity_for("blocked", "enterprise") == "S3"  # only one tier
    d["priority"] = {"tier_weight": {"enterprise": 2, "standard": 2}}
    assert parse(d).severity_for("blocked", "enterprise") == "S3"  # no tier stands out
    del d["priority"]
    assert parse(d).severity_for("blocked", "enterprise") == "S3"  # no weights at all


def test_summary() -> None:
    d = data()
    d["chase"] = [{"after": "1bd", "action": "remind"}]
    text = parse(d).summary()
    assert text.splitlines() == [
        "Test Support (time zone Europe/Rome)",
        "3 teams, 3 product areas, 2 accounts",
        "3 engineers, 1 CSM, 1 lead, 2 customers",
        "chase: remind after 1bd",
        "SLA: not set",
    ]


def test_config_built_in_code_has_lookups() -> None:
    config = Config.model_validate(data())
    assert config.person_by_identity("slack", "U6").id == "gus"  # type: ignore[union-attr]
    assert config.source == "<code>"
    config.people.append(Person(id="zoe", name="Zoe", role="lead", identities={"slack": "U9"}))
    config.reindex()
    assert config.person("zoe") is not None


# -- configurations that validate but would break casebot's promises -------------------


def test_no_impacts_means_no_case_can_open() -> None:
    d = data()
    d["impacts"] = {}
    assert any(e.startswith("impacts: at least one business impact") for e in errors_of(d))


def test_nobody_to_escalate_to_is_refused() -> None:
    d = data()
    d["people"] = [p for p in d["people"] if p["role"] != "lead"]
    for a in d["accounts"]:
        if a.get("csm") == "lee":
            a.pop("csm")
    assert any(e.startswith("people: no one has the role lead") for e in errors_of(d))


def test_an_account_channel_may_not_be_a_team_channel() -> None:
    d = data()
    account(d, "globex")["channels"] = {"slack": "C1"}  # the platform team's channel
    assert any("channels.slack: 'C1' is also team platform's channel" in e for e in errors_of(d))


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b"])
def test_a_control_character_is_named_by_its_position(bad: str) -> None:
    text = yaml.safe_dump(data(), sort_keys=False).replace("support:", f"support: {bad}", 1)
    (error,) = errors_of(text)
    assert error.startswith("line ") and "is not allowed in a configuration file" in error


def test_staff_threads_customers_could_read_are_a_warning() -> None:
    d = data()
    del d["teams"][0]["staff_channels"]
    warnings = parse(d).warnings
    assert any("teams[0] (platform).staff_channels.discord: not set" in w for w in warnings)
