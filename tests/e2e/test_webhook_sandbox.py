"""A webhook's page in a logged-in operator's browser, on the admin's own origin:
its script never runs, so it can neither read the operator's cookies nor act as them."""

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PAGE = "/v1/ext/hostile-hook/webhook/page"


def test_a_webhook_page_runs_no_script_in_an_operators_browser(
    operator_page, screenshot
):
    page = operator_page
    console = []
    page.on("console", lambda message: console.append(message.text))
    assert any(c["name"] == "sessionid" for c in page.context.cookies())

    page.goto(PAGE)

    expect(page.locator("p")).to_have_text("hello")
    assert page.title() == "hook"  # the script would have retitled it
    assert any("sandboxed" in text and "allow-scripts" in text for text in console)
    screenshot(page, "webhook-page-sandboxed")
