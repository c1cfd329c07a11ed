"""The email adapter's small parts on their own: what a reply says once quotes and
signatures are cut, which case a mail names, the reply keywords, the environment's
addresses, and the configuration's ``email:`` section and ``email_domains``."""

from __future__ import annotations

import pytest

from adapters.email import configured
from adapters.email.letters import parse
from adapters.email.settings import EmailEnv
from adapters.email.threads import Ask, ask_of, case_named, new_text, title_of
from bot.config import ConfigError, parse_config
from bot.ports import PlatformError
from tests.email.conftest import CONFIG


def letter(text: str, subject: str = "Re: x", **headers: str) -> bytes:
    lines = ["From: Gus <gus@globex.example>", "To: support@casebot.example", f"Subject: {subject}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n" + text).encode()


@pytest.mark.parametrize(
    "body",
    [
        "The URL is /in.\n\nOn Mon, 2 Nov 2026 at 10:00, Support <support@casebot.example> wrote:\n> Which URL?\n",
        "The URL is /in.\n\n-----Original Message-----\nFrom: Support\nSent: Monday\nWhich URL?\n",
        "The URL is /in.\n\nAm Mo., 2. Nov. 2026 um 10:00 Uhr schrieb Support <support@casebot.example>:\n> Which URL?\n",
        "The URL is /in.\n\n--\nGus Hartmann\nGlobex Corporation\n",
        "The URL is /in.\n\nSent from my iPhone\n",
    ],
    ids=["gmail", "outlook", "german", "signature", "phone"],
)
def test_quoted_history_and_signatures_are_cut(body: str) -> None:
    assert new_text(parse(letter(body))) == "The URL is /in."


def test_a_mail_names_its_case_by_thread_headers_before_the_subject() -> None:
    by_header = parse(
        letter("hi", "Re: [CASE-9] x", In_Reply_To="<casebot.CASE-3.12.ab@casebot.example>")
    )
    assert case_named(by_header) == "CASE-3"
    by_references = parse(
        letter("hi", "Re: x", References="<a@b> <casebot.CASE-4.root@casebot.example>")
    )
    assert case_named(by_references) == "CASE-4"
    assert case_named(parse(letter("hi", "Fwd: [case-7] still broken"))) == "CASE-7"
    assert case_named(parse(letter("hi", "Re: CASE-7 without brackets"))) is None
    assert case_named(parse(letter("hi", "Re: x", In_Reply_To="<someone@else>"))) is None
    # Another casebot's ids name its own cases, not ours.
    other = parse(letter("hi", "Re: x", In_Reply_To="<casebot.CASE-3.root@elsewhere.example>"))
    assert case_named(other, "casebot.example") is None
    assert case_named(by_header, "casebot.example") == "CASE-3"


def test_reply_keywords() -> None:
    assert ask_of("Confirm.\n\nThanks!") == Ask("confirm", "")
    assert ask_of("confirm that it works? not sure") == Ask(None, "confirm that it works? not sure")
    assert ask_of("reject still 500s") == Ask("reject", "still 500s")
    assert ask_of("REJECT\n\nIt still fails.\n\nGus") == Ask("reject", "It still fails.")
    assert ask_of("/case escalate CASE-1 down for hours") == Ask(
        "/case", "escalate CASE-1 down for hours"
    )
    assert ask_of("Here is the log") == Ask(None, "Here is the log")


def test_a_new_case_title_loses_re_fwd_and_tags() -> None:
    assert title_of(parse(letter("x", "Re: Fwd: AW: [CASE-2]  Agent   crashes"))) == "Agent crashes"


def test_html_only_mail_is_read_as_text() -> None:
    raw = letter(
        "<html><body><p>It fails &amp; <b>stops</b></p><script>x()</script></body></html>",
        Content_Type="text/html; charset=utf-8",
    )
    assert parse(raw).text == "It fails & stops"


def test_the_environment_names_the_servers() -> None:
    env = EmailEnv.read(
        {
            "CASEBOT_SMTP_URL": "smtps://casebot%40corp@mail.corp.example",
            "CASEBOT_SMTP_PASSWORD": "s3cret",
            "CASEBOT_IMAP_URL": "imaps://support@imap.corp.example/Support",
            "CASEBOT_SMTP_LISTEN": "0.0.0.0:2525",
        }
    )
    assert env.smtp is not None and env.imap is not None
    assert (env.smtp.host, env.smtp.port, env.smtp.user, env.smtp.password, env.smtp.tls) == (
        "mail.corp.example",
        465,
        "casebot@corp",
        "s3cret",
        True,
    )
    assert (env.imap.port, env.imap.path, env.imap.tls) == (993, "Support", True)
    assert env.listen == ("0.0.0.0", 2525)
    assert configured({"CASEBOT_IMAP_URL": "imap://a@b"}) and not configured({})


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("CASEBOT_SMTP_URL", "http://mail.example", "must look like smtp://user@host:port"),
        ("CASEBOT_IMAP_URL", "imap://:pw@", "must look like imap://user@host:port"),
        ("CASEBOT_SMTP_LISTEN", "2525", "must look like host:port"),
        ("CASEBOT_IMAP_POLL", "soon", "a number of seconds"),
    ],
)
def test_a_wrong_server_setting_says_what_to_fix(name: str, value: str, words: str) -> None:
    with pytest.raises(PlatformError, match=words):
        EmailEnv.read({name: value})


def _config(extra: str) -> str:
    return CONFIG.read_text().split("\nemail:")[0] + extra


def test_the_email_section_is_checked() -> None:
    with pytest.raises(ConfigError) as bad:
        parse_config(_config("\nemail:\n  address: support-at-example\n"))
    assert "email.address: 'support-at-example' is not a mail address" in str(bad.value)
    config = parse_config(_config("\nemail:\n  address: Support@Casebot.Example\n"))
    assert config.email is not None and config.email.address == "support@casebot.example"


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ("unknown_senders: maybe", "email.unknown_senders: input should be 'reply' or 'queue'"),
        ("attachments: {max_bytes: -1}", "email.attachments.max_bytes: input should be greater"),
        (
            "attachments: {max_bytes: 10, max_total_bytes: 5}",
            "email.attachments: max_bytes (10) is more than max_total_bytes (5)",
        ),
    ],
)
def test_the_mail_keeping_settings_are_checked(section: str, words: str) -> None:
    with pytest.raises(ConfigError) as bad:
        parse_config(_config(f"\nemail:\n  address: support@casebot.example\n  {section}\n"))
    assert words in str(bad.value)
    config = parse_config(_config("\nemail:\n  address: support@casebot.example\n"))
    assert config.email is not None and config.email.unknown_senders == "reply"
    assert config.email.attachments.max_bytes == 5 * 1024 * 1024


def test_a_misspelt_mail_keeping_key_is_named() -> None:
    typo = parse_config(_config("\nemail:\n  address: a@b.example\n  attachments: {max_size: 1}\n"))
    assert "email.attachments.max_size: unknown key, ignored" in typo.warnings


def test_a_mail_domain_belongs_to_one_account() -> None:
    text = _config("").replace(
        "email_domains: [initech.example]", "email_domains: [globex.example]"
    )
    with pytest.raises(ConfigError) as bad:
        parse_config(text)
    assert (
        "accounts[1] (initech).email_domains: 'globex.example' is already used by accounts[0] (globex)"
        in str(bad.value)
    )
    with pytest.raises(ConfigError) as worse:
        parse_config(_config("").replace("[initech.example]", "[not a domain]"))
    assert "'not a domain' is not a mail domain" in str(worse.value)


def test_accounts_are_found_by_mail_domain() -> None:
    config = parse_config(_config(""))
    account = config.account_for_email("Pat@GLOBEX.example")
    assert account is not None and account.key == "globex"
    assert config.account_for_email("pat@globex.example.evil.example") is None
    assert config.account_for_email("nobody") is None


async def test_a_worker_only_sends() -> None:
    """``casebot worker`` starts platforms with ``receive=False``: no receiver, no poller."""
    from adapters.email import from_env
    from bot.config import load_config
    from bot.ports import PlatformOptions

    class Core:
        config = load_config(CONFIG)

    platform = from_env(
        {"CASEBOT_SMTP_LISTEN": "127.0.0.1:0", "CASEBOT_IMAP_URL": "imap://a@127.0.0.1:1"},
        PlatformOptions(receive=False),
    )
    await platform.start(Core())  # type: ignore[arg-type]
    assert platform.receiver is None and platform.poller is None
    await platform.stop()


async def test_without_an_email_section_the_platform_says_what_to_add() -> None:
    from adapters.email import from_env
    from bot.config import load_config
    from bot.ports import PlatformOptions

    class Core:
        config = load_config(CONFIG)

    Core.config.email = None
    with pytest.raises(PlatformError, match="email needs an `email:` section"):
        await from_env({}, PlatformOptions()).start(Core())  # type: ignore[arg-type]
