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
