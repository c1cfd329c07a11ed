"""The dashboard in a real browser: Playwright driving Debian's Chromium.

Signs in through the link from chat, reads the overview (its charts drawn), filters
the case list, opens a case, exports CSV; and a customer's link to another account's
case is refused. Without Chromium these tests skip locally and fail under CI (``.ci/run``
installs it). ``CASEBOT_SCREENSHOTS=docs`` saves the screenshots docs/dashboard.md shows.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.web.dashboard.session import TRANSCRIPT
from adapters.web.signing import Signer
from tests.web.conftest import ENV, Site

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _need_browser() -> None:
    reason = None
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        reason = "the playwright package is not installed"
    if reason is None and not Path(CHROMIUM).exists():
        reason = "Debian's chromium is not installed (apt-get install chromium)"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)


@pytest.fixture
async def page(tmp_path: Path) -> AsyncIterator[Any]:
    _need_browser()
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM)
        context = await browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        try:
            yield await context.new_page()
        finally:
            await context.close()
            await browser.close()


def shots(tmp_path: Path) -> Path:
    folder = os.environ.get("CASEBOT_SCREENSHOTS")
    return Path(folder) if folder else tmp_path


async def test_a_lead_signs_in_filters_opens_a_case_and_exports(
    site: Site, page: Any, tmp_path: Path
) -> None:
    link = await site.link("lee", "/case dashboard")
    await page.goto(link)
    await page.click("#sign-in")
    await page.wait_for_url(site.url + "/dashboard")
    assert await page.text_content("h1") == "Overview last 30 days"
    assert await page.text_content("#opened") == "2"
    await page.wait_for_selector("body[data-charts=drawn]")
    await page.screenshot(path=str(shots(tmp_path) / "dashboard-overview.png"), full_page=True)

    await page.click("text=Cases")
    await page.wait_for_url(site.url + "/dashboard/cases")
    assert await page.locator("#case-table tbody tr").count() == 2
    await page.select_option("select[name=account]", "initech")
    await page.click("#apply")  # htmx swaps the page's main part and pushes the URL
    await page.wait_for_url("**/dashboard/cases?*account=initech*")
    rows = page.locator("#case-table tbody tr")
    assert await rows.count() == 1
    assert "CASE-2" in (await rows.first.text_content() or "")

    async with page.expect_download() as download:
        await page.click("#export-cases")
    path = await (await download.value).path()
    text = await asyncio.to_thread(Path(path).read_text)
    assert text.splitlines()[0].startswith("case,title,state")
    assert "CASE-2" in text and "CASE-1" not in text

    await page.goto(site.url + "/dashboard/cases")
    await page.click("text=CASE-1")
    await page.wait_for_url(site.url + "/dashboard/cases/CASE-1")
    timeline = await page.text_content("#timeline") or ""
    assert "Customer is on the legacy plan" in timeline and "internal" in timeline
    await page.screenshot(path=str(shots(tmp_path) / "dashboard-case.png"), full_page=True)


async def test_a_customers_link_to_another_accounts_case_is_refused(site: Site, page: Any) -> None:
    own = await site.link("gus", "/case transcript CASE-1")
    response = await page.goto(own)
    assert response.status == 200
    assert "Webhooks fail with 500" in (await page.text_content("h1") or "")
    assert "legacy plan" not in await page.content()

    token = Signer(ENV["CASEBOT_SECRET_KEY"]).sign(TRANSCRIPT, {"p": "gus", "c": "CASE-2"})
    response = await page.goto(f"{site.url}/transcript?t={token}")
    assert response.status == 403
    assert await page.text_content(".message") == "There is no case CASE-2."
