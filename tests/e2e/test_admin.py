"""The admin in a real browser: logging in, who may enter, what read-only pages show."""

import re

import pytest
from playwright.sync_api import expect

from .conftest import make_staff

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_operator_logs_in_and_reaches_the_admin_index(operator_page, screenshot):
    expect(operator_page.locator("#site-name")).to_be_visible()
    expect(operator_page.locator("#user-tools")).to_contain_text("operator")
    screenshot(operator_page, "admin-index")


def test_a_user_who_is_not_staff_never_reaches_the_admin(new_page, login):
    outsider = make_staff("outsider")
    outsider.is_staff = False
    outsider.save(update_fields=["is_staff"])
    page = login(new_page(), outsider, expect_path=None)
    expect(page.locator(".errornote")).to_be_visible()
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))


def test_a_read_only_page_offers_neither_save_nor_delete(operator_page, screenshot):
    from apps.accounts.models import SecurityEvent
    from apps.accounts.partition import Partition
    from apps.accounts.security import record_threat

    record_threat("as_user_outside_system", Partition("default", "probe", "mallory"))
    event = SecurityEvent.objects.get()
    page = operator_page
    page.goto(f"/admin/accounts/securityevent/{event.pk}/change/")
    expect(page.locator(".field-kind")).to_contain_text("as_user_outside_system")
    expect(page.locator('input[type="submit"]')).to_have_count(0)
    expect(page.locator("a.deletelink")).to_have_count(0)
    expect(page.locator(".field-created_at")).to_contain_text(
        re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")
    )
    screenshot(page, "admin-read-only")


def test_an_api_token_is_issued_from_the_users_page_and_revoked_by_action(
    operator_page, alice, screenshot
):
    from apps.accounts.models import ApiToken, hash_token

    page = operator_page
    page.goto(f"/admin/accounts/user/{alice.pk}/change/")
    expect(page.locator(".field-imperal_id .readonly")).to_have_text("alice")
    screenshot(page, "admin-user")
    page.get_by_role("link", name="Issue an API token").click()
    expect(page.locator("h1")).to_have_text("Issue an API token")
    expect(page.locator("#id_user")).to_have_value(str(alice.pk))
    page.select_option("#id_expires", label="in 30 days")
    screenshot(page, "admin-token-issue")
    page.locator('input[name="_save"]').click()
    message = page.locator(".messagelist .warning")
    expect(message).to_contain_text("New API token for alice: imp_u_")
    raw = re.search(r"(imp_u_\S+)", message.inner_text()).group(1)
    token = ApiToken.objects.get(user=alice)
    assert token.token_hash == hash_token(raw) and token.expires_at is not None

    page.check(f'input[name="_selected_action"][value="{token.pk}"]')
    page.select_option('select[name="action"]', value="revoke_now")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text("Revoked 1 token(s).")
    screenshot(page, "admin-token-revoked")
    token.refresh_from_db()
    assert token.state() == "revoked"


def test_the_landing_page_links_the_admin_docs_and_health(
    new_page, operator_page, screenshot
):
    page = new_page()
    page.goto("/")
    expect(page.locator("h1")).to_have_text("imperal-platform")
    for name in ("Admin console", "API documentation", "Health"):
        expect(page.get_by_role("link", name=name)).to_be_visible()
    screenshot(page, "landing")
    page.get_by_role("link", name="Health").click()
    expect(page.locator("body")).to_contain_text('"status"')

    operator_page.get_by_role("link", name="View site").click()
    expect(operator_page).to_have_url(re.compile(r"/$"))
    expect(operator_page.locator("h1")).to_have_text("imperal-platform")


def test_guessing_a_password_pauses_that_sign_in_with_a_page_saying_why(
    new_page, login, screenshot
):
    from django.conf import settings

    from apps.accounts.models import User

    guessed = make_staff("guessed")
    page = new_page()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        login(page, guessed, password="not-it", expect_path=None)
        expect(page.locator(".errornote")).to_be_visible()
    login(page, guessed, password="not-it", expect_path=None)
    expect(page.get_by_role("alert")).to_contain_text("Too many wrong passwords")
    login(page, guessed, expect_path=None)  # the right password, still paused
    expect(page.get_by_role("heading", name="Sign-in paused")).to_be_visible()
    expect(page.get_by_role("link", name="Back to the sign-in page")).to_be_visible()
    screenshot(page, "admin-login-paused")
    page.goto("/admin/")
    expect(page).to_have_url(re.compile(r"/admin/login/\?next=/admin/$"))
    assert User.objects.get(username="guessed").last_login is None
