"""manifest.yml installs what the adapter uses, and nothing more."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((ROOT / "manifest.yml").read_text())

# The bot scopes each Web API method the adapter calls needs (None: no scope). Reading a
# conversation takes the scope of its kind: casebot posts in public and private channels
# and in DMs, so its look-up of an earlier post (adapters/slack/posted.py) needs all three.
HISTORY = ("channels:history", "groups:history", "im:history")
METHOD_SCOPES: dict[str, str | tuple[str, ...] | None] = {
    "auth_test": None,
    "chat_postMessage": "chat:write",
    "chat_postEphemeral": "chat:write",
    "chat_update": "chat:write",
    "chat_getPermalink": None,
    "conversations_open": "im:write",
    "users_info": "users:read",
    "reactions_add": "reactions:write",
    "views_open": None,
    "views_publish": None,
    "conversations_history": HISTORY,
    "conversations_replies": HISTORY,
}
EVENT_SCOPES = {
    "app_home_opened": None,
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
}


def adapter_methods() -> set[str]:
    source = "\n".join(p.read_text() for p in (ROOT / "adapters" / "slack").glob("*.py"))
    return set(re.findall(r"\b(?:api|self)\.(?:web|posts)\.([a-z]+_[A-Za-z_]+)\(", source))


def test_every_web_api_call_of_the_adapter_is_known_here() -> None:
    assert adapter_methods() == set(METHOD_SCOPES)


def test_the_bot_has_exactly_the_scopes_its_features_need() -> None:
    events = MANIFEST["settings"]["event_subscriptions"]["bot_events"]
    needed = {"commands"}
    for scopes in METHOD_SCOPES.values():
        needed |= {scopes} if isinstance(scopes, str) else set(scopes or ())
    needed |= {s for e in events if (s := EVENT_SCOPES[e])}
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == needed


def test_a_re_send_may_read_every_kind_of_conversation_casebot_posts_in() -> None:
    """Without these, a re-send after a crash cannot find its first post (issue #10)."""
    assert set(HISTORY) <= set(MANIFEST["oauth_config"]["scopes"]["bot"])


def test_the_app_has_the_case_command_interactivity_home_and_socket_mode() -> None:
    features, settings = MANIFEST["features"], MANIFEST["settings"]
    (command,) = features["slash_commands"]
    assert command["command"] == "/case"
    assert "open <title>" in command["usage_hint"] and command["should_escape"] is True
    assert features["bot_user"]["display_name"] == "casebot"
    assert features["app_home"]["home_tab_enabled"] is True
    assert features["app_home"]["messages_tab_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert set(settings["event_subscriptions"]["bot_events"]) == set(EVENT_SCOPES)
    assert settings["socket_mode_enabled"] is True
