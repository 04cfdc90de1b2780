"""Outbound calls in a real browser: an operator sees who called where, and filters
the refusals — on rows left by real ctx.http calls against a loopback upstream."""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from apps.accounts.partition import Partition
from apps.egress.errors import EgressRefused
from apps.egress.face import EgressHTTPClient
from apps.egress.records import recorder
from tests.egress.upstream import Upstream

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def calls_made(settings):
    upstream = Upstream()
    settings.IMPERAL_EGRESS_ALLOW = {"notes": [f"127.0.0.1:{upstream.port}"]}
    http = EgressHTTPClient(Partition("default", "notes", "alice"))

    async def make():
        await http.get(upstream.url("/json?token=QUERY-SECRET"))
        await http.post(upstream.url("/echo"), json={"note": "BODY-SECRET"})
        with pytest.raises(EgressRefused):
            await http.get("http://169.254.169.254/latest/meta-data/")

    # Playwright runs an event loop on this thread: the calls get a thread of their own.
    with ThreadPoolExecutor(max_workers=1) as thread:
        try:
            thread.submit(asyncio.run, make()).result()
        finally:
            upstream.stop()
    assert recorder.flush()
    return upstream


def test_an_operator_reads_and_filters_outbound_calls(
    operator_page, calls_made, screenshot
):
    page = operator_page
    page.get_by_role("link", name="Outbound calls", exact=True).click()
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#result_list")).to_contain_text(
        f"http://127.0.0.1:{calls_made.port}"
    )
    expect(page.locator("#result_list")).to_contain_text("refused (link-local)")
    expect(page.locator("body")).not_to_contain_text("SECRET")
    screenshot(page, "admin-outbound-calls")
    page.get_by_role("link", name="refused by the egress policy").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("http://169.254.169.254:80")
    expect(page.get_by_role("link", name="Add outbound call")).to_have_count(0)
