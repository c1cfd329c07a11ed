"""Settings from the environment, and pointing discord.py at other endpoints."""

from __future__ import annotations

import pytest
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from adapters.discord import configured
from adapters.discord.settings import DiscordSettings, Endpoints, SettingsError, parse_guild_ids
from bot.ports import PlatformError


def test_configured_only_with_a_token() -> None:
    assert configured({"DISCORD_TOKEN": "abc"})
    assert not configured({"DISCORD_TOKEN": "  "})
    assert not configured({})


def test_settings_read_every_variable() -> None:
    s = DiscordSettings.from_env(
        {
            "DISCORD_TOKEN": " abc ",
            "DISCORD_API_BASE": "http://127.0.0.1:9/api/v10/",
            "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9/gateway",
            "DISCORD_GUILD_IDS": "710000000000000001, 710000000000000002,,710000000000000001",
        }
    )
    assert s.token == "abc"
    assert s.api_base == "http://127.0.0.1:9/api/v10"
    assert s.gateway_url == "ws://127.0.0.1:9/gateway"
    assert s.guild_ids == (710000000000000001, 710000000000000002)


def test_a_proxy_base_gets_the_api_version() -> None:
    s = DiscordSettings.from_env(
        {"DISCORD_TOKEN": "t", "DISCORD_API_BASE": "https://proxy.example"}
    )
    assert s.api_base == "https://proxy.example/api/v10"


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("DISCORD_GUILD_IDS", "12,abc", "'abc' is not a guild id"),
        ("DISCORD_API_BASE", "proxy.example", "http(s) URL"),
        ("DISCORD_GATEWAY_URL", "http://x", "ws(s) URL"),
    ],
)
def test_bad_settings_say_what_is_wrong(name: str, value: str, words: str) -> None:
    with pytest.raises(SettingsError, match=words.replace("(", r"\(").replace(")", r"\)")):
        DiscordSettings.from_env({"DISCORD_TOKEN": "t", name: value})


def test_no_token_is_an_error() -> None:
    with pytest.raises(SettingsError, match="DISCORD_TOKEN") as caught:
        DiscordSettings.from_env({})
    assert isinstance(caught.value, PlatformError)  # `casebot run` prints it as one line


def test_no_guild_ids_means_none() -> None:
    assert parse_guild_ids(None) == () and parse_guild_ids(" ") == ()


def test_endpoints_are_applied_and_restored() -> None:
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    endpoints = Endpoints(
        DiscordSettings("t", "http://127.0.0.1:1/api/v10", "ws://127.0.0.1:1/gateway")
    )
    endpoints.apply()
    try:
        assert Route.BASE == "http://127.0.0.1:1/api/v10"
        assert DiscordWebSocket.DEFAULT_GATEWAY == yarl.URL("ws://127.0.0.1:1/gateway")
        assert Route("GET", "/users/@me").url == "http://127.0.0.1:1/api/v10/users/@me"
    finally:
        endpoints.restore()
    assert (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY) == (base, gateway)
