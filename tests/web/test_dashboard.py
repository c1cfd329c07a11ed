"""The dashboard over HTTP, as dialogs: who asks for a link in chat, what the browser
is shown, and what it is refused."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

from adapters.web.dashboard.session import SIGN_IN, TRANSCRIPT
from adapters.web.signing import Signer
from tests.harness import of_kind
from tests.web.conftest import ENV, Site, browser


async def test_a_staff_member_signs_in_once_with_the_link_from_chat(site: Site) -> None:
    link = await site.link("lee", "/case dashboard")
    assert link.startswith(site.url + "/dashboard/sign-in?t=")
    async with browser() as client:
        async with client.get(link) as page:  # a preview of the link spends nothing
            assert page.status == 200 and "Sign in" in await page.text()
            assert page.headers["Referrer-Policy"] == "same-origin"
        token = link.split("t=", 1)[1]
        async with client.post(site.url + "/dashboard/sign-in", data={"t": token}) as r:
            assert r.url.path == "/dashboard" and r.status == 200
            assert "Overview" in await r.text()
            set_cookie = r.history[0].headers["Set-Cookie"]
        assert set_cookie.startswith("casebot_session=")
        assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    async with browser() as other:  # the same link again
        async with other.post(site.url + "/dashboard/sign-in", data={"t": token}) as r:
            assert r.status == 403
            assert "used already" in await r.text()
            assert "casebot_session" not in other.cookie_jar.filter_cookies(site.url)


async def test_no_page_shows_case_data_without_a_session(site: Site) -> None:
    async with browser() as client:
        for path in (
            "/dashboard",
            "/dashboard/cases",
            "/dashboard/cases/CASE-1",
            "/dashboard/export/cases.csv",
        ):
            async with client.get(site.url + path) as r:
                assert r.status == 401, path
                body = await r.text()
                assert "CASE-1" not in body and "Webhooks" not in body
        client.cookie_jar.update_cookies({"casebot_session": "forged.value.here"})
        async with client.get(site.url + "/dashboard/cases") as r:
            assert r.status == 401


async def test_customers_and_forged_links_get_no_dashboard(site: Site) -> None:
    reply = await site.d.say("gus", "/case dashboard")
    assert not reply.ok and reply.text == "`/case dashboard` is not for you. Try `/case help`."
    forged = Signer("another key").sign(SIGN_IN, {"p": "lee"})
    async with browser() as client:
        async with client.get(f"{site.url}/dashboard/sign-in?t={forged}") as r:
            assert r.status == 403 and "not valid" in await r.text()
        # A genuine link for a customer (never given out) starts no session either.
        token = Signer(ENV["CASEBOT_SECRET_KEY"]).sign(SIGN_IN, {"p": "gus"})
        async with client.post(site.url + "/dashboard/sign-in", data={"t": token}) as r:
            assert r.status == 403 and "for staff" in await r.text()


async def test_the_case_page_shows_the_whole_timeline_to_staff(site: Site) -> None:
    async with await site.signed_in("alice") as client:
        async with client.get(site.url + "/dashboard/cases/CASE-1") as r:
            html = await r.text()
    assert "Customer is on the legacy plan" in html and "internal" in html
    assert "Looking into it now" in html


async def test_a_csm_sees_only_the_accounts_they_look_after(site: Site) -> None:
    async with await site.signed_in("dana") as client:  # globex's CSM
        async with client.get(site.url + "/dashboard/cases") as r:
            html = await r.text()
        assert "CASE-1" in html and "CASE-2" not in html
        async with client.get(site.url + "/dashboard/cases/CASE-2") as r:
            assert r.status == 403
            assert "belongs to an account you don't look after" in unescape(await r.text())


async def test_filters_search_and_csv_export(site: Site) -> None:
    async with await site.signed_in("lee") as client:
        async with client.get(site.url + "/dashboard/cases?account=initech") as r:
            html = await r.text()
        assert "CASE-2" in html and "CASE-1" not in html
        async with client.get(site.url + "/dashboard/cases?q=webhooks") as r:
            html = await r.text()
        assert "CASE-1" in html and "CASE-2" not in html
        async with client.get(site.url + "/dashboard/cases?tier=platinum") as r:
            assert r.status == 403 and "There is no tier" in await r.text()
        async with client.get(site.url + "/dashboard/export/cases.csv?state=all") as r:
            assert r.headers["Content-Type"].startswith("text/csv")
            rows = list(csv.reader(io.StringIO(await r.text())))
        assert rows[0][:3] == ["case", "title", "state"]
        assert sorted(row[0] for row in rows[1:]) == ["CASE-1", "CASE-2"]
        for table in ("eng", "kb", "volume", "engineers", "summary"):
            async with client.get(f"{site.url}/dashboard/export/{table}.csv") as r:
                assert r.status == 200, table


async def test_a_spreadsheet_formula_in_user_text_is_defused_in_csv(site: Site) -> None:
    assert (await site.d.say("gus", '/case open =HYPERLINK("http://x")')).ok
    async with await site.signed_in("lee") as client:
        async with client.get(site.url + "/dashboard/export/cases.csv") as r:
            rows = list(csv.reader(io.StringIO(await r.text())))
    titles = [row[1] for row in rows[1:]]
    assert '\'=HYPERLINK("http://x")' in titles


async def test_forms_need_their_csrf_token(site: Site) -> None:
    async with await site.signed_in("lee") as client:
        async with client.post(site.url + "/dashboard/sign-out", data={}) as r:
            assert r.status == 403 and "out of date" in await r.text()
        async with client.get(site.url + "/dashboard") as r:
            csrf = re.search(r'name="csrf" value="([^"]+)"', await r.text())
        assert csrf
        async with client.post(site.url + "/dashboard/sign-out", data={"csrf": csrf.group(1)}) as r:
            assert r.status == 200
        async with client.get(site.url + "/dashboard") as r:
            assert r.status == 401


async def test_a_customer_reads_their_own_case_without_internal_notes(site: Site) -> None:
    link = await site.link("gina", "/case transcript CASE-1")  # gus's colleague at globex
    async with browser() as client:
        async with client.get(link) as r:
            html = await r.text()
    assert r.status == 200 and "Webhooks fail with 500" in html
    assert "Looking into it now" in html
    assert "legacy plan" not in html and "internal" not in html


async def test_a_customer_link_to_another_accounts_case_is_refused(site: Site) -> None:
    reply = await site.d.say("gus", "/case transcript CASE-2")
    assert not reply.ok and reply.text == "There is no case CASE-2."
    # Even a genuinely signed link naming that case shows nothing: the server checks the
    # account on every request.
    token = Signer(ENV["CASEBOT_SECRET_KEY"]).sign(TRANSCRIPT, {"p": "gus", "c": "CASE-2"})
    async with browser() as client:
        async with client.get(f"{site.url}/transcript?t={token}") as r:
            html = await r.text()
    assert r.status == 403 and "There is no case CASE-2." in html and "VAT" not in html


async def test_staff_get_no_transcript_link(site: Site) -> None:
    reply = await site.d.say("alice", "/case transcript CASE-1")
    assert not reply.ok and "`/case transcript` is not for you" in reply.text


async def test_the_survey_prompt_carries_the_transcript_link(site: Site) -> None:
    assert (await site.d.say("alice", "/case propose CASE-1 Raise the webhook timeout")).ok
    assert (await site.d.say("gus", "/case confirm CASE-1")).ok
    (prompt,) = of_kind(site.d.customer_thread("CASE-1"), "survey_prompt")
    link = re.search(r"The whole conversation, to keep: (\S+)", prompt.text)
    assert link and link.group(1).startswith(site.url + "/transcript?t=")
    async with browser() as client:
        async with client.get(link.group(1)) as r:
            html = await r.text()
    assert r.status == 200 and "Raise the webhook timeout" in html and "legacy plan" not in html


async def test_a_form_posted_from_another_site_is_refused(site: Site) -> None:
    link = await site.link("lee", "/case dashboard")
    token = link.split("t=", 1)[1]
    async with browser() as client:
        async with client.post(
            site.url + "/dashboard/sign-in",
            data={"t": token},
            headers={"Origin": "https://evil.example"},
        ) as r:
            assert r.status == 403 and "another site" in await r.text()
        # The link was not spent by the refused attempt.
        async with client.post(site.url + "/dashboard/sign-in", data={"t": token}) as r:
            assert r.status == 200 and r.url.path == "/dashboard"
