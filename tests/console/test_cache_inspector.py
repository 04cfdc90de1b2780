"""The cache inspector on whichever backend this pass runs (Redis or embedded)."""

import re

import pytest
from django.urls import reverse

from apps.cache.core import get_core
from apps.cache.entries import hash_key

from .conftest import APP, DELETE, VIEW, partition

pytestmark = pytest.mark.django_db


def test_entries_show_model_size_ttl_and_when_cached(operator, stored):
    client = operator("olga", VIEW)
    page = client.get(reverse("console:cache", args=[APP, "alice"])).content.decode()
    for key in ("first", "second"):
        row = page[page.index(hash_key(key)) :].split("</tr>")[0]
        ttl = int(re.findall(r'<td class="num">(\d+)</td>', row)[1])
        assert 110 <= ttl <= 120
        assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</td>", row)
    assert page.count("<td>note</td>") == 2
    assert "Delete" not in page.split("<tbody>")[1]  # no delete permission


def test_delete_one_entry(operator, stored):
    client = operator("olga", VIEW, DELETE)
    url = reverse("console:cache-delete", args=[APP, "alice"])
    response = client.post(
        url, {"model": "note", "key_hash": hash_key("first")}, follow=True
    )
    assert b"Deleted cache entry" in response.content
    left = [e.key_hash for e in get_core().list_entries(partition("alice"))]
    assert left == [hash_key("second")]


def test_bad_delete_is_named_and_deletes_nothing(operator, stored):
    client = operator("olga", VIEW, DELETE)
    url = reverse("console:cache-delete", args=[APP, "alice"])
    response = client.post(url, {"model": "note", "key_hash": "*"}, follow=True)
    assert b"key hash must be 16 lowercase hex digits" in response.content
    assert len(get_core().list_entries(partition("alice"))) == 2


def test_delete_needs_delete_permission(operator, stored):
    client = operator("vera", VIEW)
    url = reverse("console:cache-delete", args=[APP, "alice"])
    response = client.post(url, {"model": "note", "key_hash": hash_key("first")})
    assert response.status_code == 403
    assert len(get_core().list_entries(partition("alice"))) == 2
