"""Signed links: genuine, for one purpose, until they expire."""

from __future__ import annotations

import pytest

from adapters.web.signing import LinkRefused, Signer, secret_from_env


def test_a_link_is_trusted_for_its_purpose_only() -> None:
    signer = Signer("k" * 32)
    token = signer.sign("survey", {"case": "CASE-3", "rating": 5})
    claims = signer.verify(token, "survey", max_age=60)
    assert claims.data == {"case": "CASE-3", "rating": 5} and claims.nonce
    with pytest.raises(LinkRefused, match="not valid here"):
        signer.verify(token, "dashboard", max_age=60)


def test_a_forged_or_foreign_link_is_refused() -> None:
    token = Signer("k" * 32).sign("survey", {"case": "CASE-3"})
    with pytest.raises(LinkRefused, match="not valid"):
        Signer("other" * 8).verify(token, "survey", max_age=60)
    with pytest.raises(LinkRefused, match="not valid"):
        Signer("k" * 32).verify(token[:-2] + "xx", "survey", max_age=60)


def test_an_expired_link_says_so() -> None:
    signer = Signer("k" * 32)
    token = signer.sign("survey", {})
    with pytest.raises(LinkRefused, match="expired"):
        signer.verify(token, "survey", max_age=-1)


def test_the_key_comes_from_the_environment() -> None:
    assert secret_from_env({"CASEBOT_SECRET_KEY": " s3cret "}) == "s3cret"
    assert secret_from_env({}) != secret_from_env({})
