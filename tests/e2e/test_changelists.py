"""Every admin changelist at 1280 px: all its columns fit, nothing is cut or needs
a sideways scroll; a screenshot of each, with rows in it."""

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from apps.accounts.partition import Partition
from apps.accounts.security import record_threat
from apps.api.models import OperatorAction
from apps.scheduler.models import ScheduleRun

from .partition_data import ALICE, APP, BOB, clear_cache, seed

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
# The results' width past the box that shows them (a sideways scroll).
OVERFLOW = """() => {
  const box = document.querySelector('#changelist-form .results');
  if (!box) return null;
  return {scroll: box.scrollWidth, client: box.clientWidth,
          page: document.documentElement.scrollWidth,
          viewport: document.documentElement.clientWidth};
}"""


@pytest.fixture
def rows():
    """Rows in the store's, the scheduler's and the operators' tables."""
    documents = seed()
    documents.replace(
        Partition("default", APP, ALICE), "operator", "notes", "n0",
        {"status": "edited by an operator with a long name"},
        documents.get(Partition("default", APP, ALICE), "notes", "n0").etag,
        operator="operator-with-a-rather-long-username",
    )  # fmt: skip
    record_threat("as_user_outside_system", Partition("default", "probe", "mallory"))
    now = timezone.now()
    ScheduleRun.objects.create(
        app_id="probe", schedule="observe", slot=f"manual:{now.isoformat()}",
        trigger="manual", triggered_by="operator", status="failed", started_at=now,
        finished_at=now, duration_ms=1234.5, error="the handler raised ValueError: "
        "a long message an operator reads in the list " * 3,
    )  # fmt: skip
    OperatorAction.objects.create(
        operator="operator", operator_id="operator", action="edit",
        tenant_id="default", app_id=APP, user_id=ALICE, collection="notes",
        doc_id="n0", detail={"etag": "0123456789abcdef0123456789abcdef"},
    )  # fmt: skip
    yield
    clear_cache(ALICE, BOB)


def changelists():
    """Return the URL of every registered model's changelist."""
    return [
        reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for model in admin.site._registry
    ]


def test_every_changelist_fits_at_1280_px(operator_page, rows, screenshot):
    page = operator_page
    cut = []
    for url in changelists():
        page.goto(url)
        expect(page.locator("#content")).to_be_visible()
        sizes = page.evaluate(OVERFLOW)
        if sizes is None:  # a page redirecting elsewhere (schedules)
            continue
        name = url.strip("/").replace("/", "-")
        screenshot(page, f"changelist-{name}")
        if sizes["scroll"] > sizes["client"] + 1 or sizes["page"] > sizes["viewport"]:
            cut.append((url, sizes))
    assert cut == [], "\n".join(f"{url}: {sizes}" for url, sizes in cut)
