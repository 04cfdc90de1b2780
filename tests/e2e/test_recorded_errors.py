"""An operator takes the error id of a failed call to the admin and reads its traceback."""

import httpx
import pytest
from playwright.sync_api import expect

from apps.accounts.models import ApiToken, User

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_an_error_id_from_a_failed_call_opens_its_traceback(
    server, operator_page, screenshot
):
    alice = User.objects.create(username="alice", imperal_id="alice")
    token = ApiToken.issue(alice)[1]
    answer = httpx.post(
        f"{server.url}/api/v1/extensions/probe/tools/explode/call",
        json={"params": {}},
        headers={"Authorization": f"Token {token}", "X-Request-ID": "e2e-request-1"},
        timeout=30,
    )
    assert answer.status_code == 500
    error_id = answer.json()["error"]["detail"]["error_id"]
    assert "boom" not in answer.text

    page = operator_page
    page.goto("/admin/")
    page.get_by_role("link", name="Recorded errors").click()
    page.get_by_role("textbox").fill(error_id)
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name=error_id)).to_be_visible()
    screenshot(page, "recorded-errors-search")

    page.get_by_role("link", name=error_id).click()
    traceback = page.locator("pre.imperal-traceback")
    expect(traceback).to_contain_text("Traceback (most recent call last)")
    expect(traceback).to_contain_text("ValueError: boom")
    expect(page.locator(".field-request_id")).to_contain_text("e2e-request-1")
    expect(page.locator(".field-handler")).to_contain_text("explode")
    expect(page.locator('input[type="submit"]')).to_have_count(0)
    screenshot(page, "recorded-error-traceback")
