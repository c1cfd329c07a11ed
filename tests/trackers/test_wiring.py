"""The tracker's configuration and wiring: the `tracker:` key with clear errors, secrets
only from the environment, and the webhook surface on the shared server."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.web import WebServer
from bot.config import ConfigError, parse_config
from bot.ports import PlatformError
from entrypoints import web
from entrypoints.bootstrap import Casebot
from entrypoints.trackers import mount
from tests.harness import CONFIG_PATH

BASE = CONFIG_PATH.read_text()


def errors(extra: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_config(BASE + "\n" + extra + "\n", "casebot.yml")
    return raised.value.errors


@pytest.mark.parametrize(
    ("extra", "said"),
    [
        ("tracker: {kind: github}", "tracker: a GitHub tracker needs 'repo: owner/name'"),
        (
            "tracker: {kind: github, repo: 'acme widgets'}",
            "tracker.repo: 'acme widgets' is not a GitHub repository (write it owner/name)",
        ),
        (
            "tracker: {kind: jira, url: https://acme.atlassian.net}",
            "tracker: a Jira tracker needs 'url: https://….atlassian.net' and 'project: KEY'",
        ),
        (
            "tracker: {kind: jira, url: https://acme.atlassian.net, project: engx}",
            "tracker.project: 'engx' is not a Jira project key (capitals, e.g. ENGX)",
        ),
        (
            "tracker: {kind: linear}",
            "tracker.kind: input should be 'github' or 'jira' (got 'linear')",
        ),
        (
            "tracker: {kind: jira, url: https://a.atlassian.net, project: ENGX, statuses: {Done: shipped}}",
            "tracker.statuses.Done: input should be 'open', 'in_progress', 'fixed', 'released' "
            "or 'wont_fix' (got 'shipped')",
        ),
    ],
)
def test_a_bad_tracker_key_says_what_is_wrong(extra: str, said: str) -> None:
    assert errors(extra) == [said]


def test_a_jira_tracker_maps_its_usual_statuses_by_default() -> None:
    config = parse_config(
        BASE + "\ntracker: {kind: jira, url: 'https://acme.atlassian.net/', project: ENGX}\n"
    )
    assert config.tracker is not None and config.tracker.url == "https://acme.atlassian.net"
    assert config.tracker.statuses == {
        "To Do": "open",
        "In Progress": "in_progress",
        "Done": "fixed",
    }


def test_without_a_tracker_nothing_changes() -> None:
    config = parse_config(BASE)
    assert config.tracker is None
    assert web.surfaces(config, {}) == []


async def test_secrets_come_from_the_environment(tmp_path: Path) -> None:
    config = parse_config(BASE + "\ntracker: {kind: github, repo: acme/widgets}\n")
    url = f"sqlite+aiosqlite:///{tmp_path / 'c.db'}"
    with pytest.raises(PlatformError, match="tracker: kind github needs GITHUB_TOKEN"):
        await Casebot.create(config, url, env={})
    bot = await Casebot.create(config, url, env={"GITHUB_TOKEN": "t"})
    try:
        assert bot.tracker_sync is not None
        assert [s.__name__ for s in web.surfaces(config, {})] == ["entrypoints.trackers"]  # type: ignore[attr-defined]
        server = WebServer("127.0.0.1", 0)
        with pytest.raises(PlatformError, match="needs GITHUB_WEBHOOK_SECRET"):
            mount(server, bot, {})
        mount(server, bot, {"GITHUB_WEBHOOK_SECRET": "s"})
        paths = {r.resource.canonical for r in server.app.router.routes() if r.resource}
        assert "/webhooks/github" in paths
    finally:
        await bot.close()


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("https://github.com/acme/widgets/issues/12", "acme/widgets#12"),
        ("<https://github.example.com/acme/widgets/issues/12#issuecomment-1>", "acme/widgets#12"),
        ("acme/widgets#012", "acme/widgets#12"),
        ("other/repo#3", "other/repo#3"),
    ],
)
def test_github_references(text: str, ref: str) -> None:
    from bot.config.integrations import Tracker
    from bot.tracker import parse_ref

    assert parse_ref(Tracker(kind="github", repo="acme/widgets"), text)[0] == ref


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("https://acme.atlassian.net/browse/ENGX-7", "ENGX-7"),
        ("engx-7", "ENGX-7"),
        ("CASE-3", None),
        ("KB-3", None),
        ("acme/widgets#3", None),
    ],
)
def test_jira_references(text: str, ref: str | None) -> None:
    from bot.config.integrations import Tracker
    from bot.errors import Refusal
    from bot.tracker import parse_ref

    tracker = Tracker(kind="jira", url="https://acme.atlassian.net", project="ENGX")
    if ref is None:
        with pytest.raises(
            Refusal, match="is not a Jira issue: give ENG-n, an issue URL or ENGX-123"
        ):
            parse_ref(tracker, text)
    else:
        assert parse_ref(tracker, text) == (ref, f"https://acme.atlassian.net/browse/{ref}")
