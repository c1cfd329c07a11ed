"""What a customer types — paraphrases, typos, questions no article answers — and what
they are shown."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from bot.search import Question, read_questions, score
from entrypoints.cli import app
from storage.db import Database
from storage.models import KbArticle
from storage.search import SearchSettings, search_articles, search_eng_issues
from storage.search_text import Synonyms, Vocabulary

NOW = datetime(2026, 12, 1, tzinfo=UTC)
SYNONYMS = Synonyms([["chart", "graph"], ["gap", "hole"], ["sign in", "login"]])
SETTINGS = SearchSettings(synonyms=SYNONYMS, min_confidence=0.4)


async def articles(db: Database) -> None:
    rows = [
        ("KB-1", "Charts show gaps in recent data", "The last minutes of a chart are empty."),
        ("KB-2", "Charts show a gap after the daylight saving change", "One hour is missing."),
        ("KB-3", "Login loops back to the sign-in page", "Okta SSO redirects forever."),
        ("KB-4", "Invoice email never arrives", "Finance did not get the invoice."),
    ]
    async with db.transaction() as s:
        for key, title, symptoms in rows:
            s.add(
                KbArticle(
                    key=key,
                    title=title,
                    symptoms=symptoms,
                    status="published",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )


async def shown(db: Database, query: str) -> list[str]:
    async with db.read() as s:
        return [h.key for h in await search_articles(s, query, settings=SETTINGS)]


async def test_a_paraphrase_finds_the_article_through_synonyms(db: Database) -> None:
    await articles(db)
    assert (await shown(db, "the graphs have holes in the last minutes"))[0] == "KB-1"
    assert (await shown(db, "graph hole since the daylight saving change"))[0] == "KB-2"


async def test_a_phrase_synonym_counts_once(db: Database) -> None:
    await articles(db)
    assert (await shown(db, "cannot sign in, the page loops"))[0] == "KB-3"


async def test_typos_are_corrected_against_the_index_vocabulary(db: Database) -> None:
    await articles(db)
    assert (await shown(db, "invoce emial never arives"))[0] == "KB-4"


async def test_a_question_no_article_answers_gets_no_suggestion(db: Database) -> None:
    await articles(db)
    assert await shown(db, "do you offer a discount for nonprofits") == []
    assert await shown(db, "") == []


async def test_scores_are_confidences_between_zero_and_one(db: Database) -> None:
    await articles(db)
    async with db.read() as s:
        hits = await search_articles(s, "charts show gaps in recent data", settings=SETTINGS)
    assert hits[0].key == "KB-1" and 0.9 <= hits[0].score <= 1.0
    assert all(0 < h.score <= hits[0].score for h in hits)


async def test_engineering_issues_are_ranked_the_same_way(db: Database) -> None:
    from storage.models import EngIssue

    async with db.transaction() as s:
        for key, title in (
            ("ENG-1", "Webhook retries ignore Retry-After"),
            ("ENG-2", "Login loop"),
        ):
            s.add(
                EngIssue(
                    key=key,
                    kind="defect",
                    title=title,
                    status="open",
                    created_by="alice",
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
    async with db.read() as s:
        hits = await search_eng_issues(s, "webhok retrys ignore retry-after", settings=SETTINGS)
    assert [h.key for h in hits] == ["ENG-1"]


def test_evaluation_figures() -> None:
    qs = [Question("a", ["KB-1"]), Question("b", ["KB-2"]), Question("c", [])]
    s = score(qs, [["KB-1"], ["KB-9", "KB-2"], ["KB-3"]])
    assert (s.r1, s.r3, s.mrr, s.false_suggestions) == (0.5, 1.0, 0.75, 1.0)
    assert s.wrong_first == 0.5


def test_a_bad_evaluation_line_names_its_line() -> None:
    try:
        read_questions(['{"query": "x", "expected": []}', "not json"], "qs.jsonl")
    except ValueError as exc:
        assert str(exc).startswith("qs.jsonl:2:")
    else:
        raise AssertionError("a bad line must be refused")


def test_the_command_line_answers_line_by_line_and_scores(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kb.db'}"
    runner = CliRunner()
    kb = Path(__file__).resolve().parents[2] / "bench" / "kb"
    env = {"CASEBOT_DATABASE_URL": url, "CASEBOT_CONFIG": "examples/casebot.yml"}
    assert runner.invoke(app, ["kb", "import", str(kb / "articles")], env=env).exit_code == 0
    result = runner.invoke(
        app,
        ["kb", "search", "--stdin"],
        input="the graphs have holes in them\n\ndo you have a discount for schools\n",
        env=env,
    )
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.output.splitlines())
    assert first["query"] == "the graphs have holes in them"
    assert first["hits"][0]["key"] == "KB-6" and set(first["hits"][0]) == {"key", "score", "title"}
    assert second["hits"] == []
    one = runner.invoke(app, ["kb", "search", "helm upgrade timeout", "--json"], env=env)
    assert json.loads(one.output)["hits"][0]["key"] == "KB-8"
    assert runner.invoke(app, ["kb", "search"], env=env).exit_code == 2
    scored = runner.invoke(app, ["kb", "eval", str(kb / "tune.jsonl"), "--json"], env=env)
    figures = json.loads(scored.output)
    assert figures["R@1"] >= 0.85 and figures["false_suggestion_rate"] <= 0.3
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{oops\n")
    refused = runner.invoke(app, ["kb", "eval", str(bad)], env=env)
    assert refused.exit_code == 2 and "bad.jsonl:1" in refused.output


def test_typo_correction_compares_words_with_numbers_only_when_they_could_be_near() -> None:
    # An index full of ids and error codes: a word of letters is never one edit from a
    # number, but "404s" is one from "404" and "port8080" from "port8081".
    vocabulary = Vocabulary(
        ["chart", "404", "5000", "port8081", "c4rt", *map(str, range(1000, 3000))]
    )
    assert vocabulary.corrections("chrat") == []  # a swap is two edits
    assert vocabulary.corrections("charts") == ["chart"]
    assert vocabulary.corrections("cart") == ["c4rt", "chart"]
    assert vocabulary.corrections("404s") == ["404"]
    assert vocabulary.corrections("port8080") == ["port8081"]
    assert vocabulary.corrections("2999") == []  # numbers are never corrected
