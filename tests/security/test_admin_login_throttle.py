"""Guessing passwords at the admin login: a pause per username and address.

Sign-ins go through the real login form (Django's test client, REMOTE_ADDR
chosen per request); the counts are django-axes' rows in the database.
"""

import datetime

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.models import Permission
from django.test import Client

from apps.accounts.models import User

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/?next=/admin/"
PASSWORD = "Right-horse-battery-7"
HOME, ELSEWHERE = "198.51.100.7", "203.0.113.9"


@pytest.fixture(autouse=True)
def fast_hashes(settings):
    """A cheap hasher: the claim is about counting sign-ins, not hashing them."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def olga(db):
    user = User(username="olga", imperal_id="olga", is_staff=True)
    user.set_password(PASSWORD)
    user.save()
    return user


def sign_in(username, password, address=HOME):
    """POST the admin login form from ``address``; return (response, client)."""
    client = Client(REMOTE_ADDR=address)
    body = {"username": username, "password": password, "next": "/admin/"}
    return client.post(LOGIN, body), client


def signed_in(response, client):
    return response.status_code == 302 and client.get("/admin/").status_code == 200


def fail(times, username="olga", address=HOME):
    for _ in range(times):
        response, _ = sign_in(username, "wrong-guess", address)
        assert response.status_code in (200, 429)


def paused(username="olga", address=HOME):
    return AccessAttempt.objects.filter(username=username, ip_address=address)


def test_wrong_passwords_then_even_the_right_one_is_refused(olga):
    limit = settings.AXES_FAILURE_LIMIT
    for _ in range(limit - 1):
        response, _ = sign_in("olga", "wrong-guess")
        assert response.status_code == 200  # the form again, with its error
    response, _ = sign_in("olga", "wrong-guess")
    assert response.status_code == 429
    response, client = sign_in("olga", PASSWORD)
    assert response.status_code == 429 and not signed_in(response, client)
    assert response["Retry-After"] == str(settings.AXES_COOLOFF_TIME.seconds)
    page = response.content.decode()
    assert "Sign-in paused" in page and "15 minutes" in page
    assert "Other usernames, and this username from other addresses" in page
    assert client.get("/admin/").status_code == 302  # still signed out


def test_attempts_while_paused_neither_count_nor_extend_it(olga):
    fail(settings.AXES_FAILURE_LIMIT)
    before = list(paused().values_list("failures_since_start", "attempt_time"))
    fail(20)
    sign_in("olga", PASSWORD)
    after = list(paused().values_list("failures_since_start", "attempt_time"))
    assert after == before and before[0][0] == settings.AXES_FAILURE_LIMIT


def test_the_pause_ends_after_the_cool_off(olga):
    fail(settings.AXES_FAILURE_LIMIT)
    assert sign_in("olga", PASSWORD)[0].status_code == 429
    row = paused().get()
    # The cool-off passing, as the clock would: the last failure is older than it.
    row.attempt_time -= settings.AXES_COOLOFF_TIME + datetime.timedelta(seconds=1)
    row.save(update_fields=["attempt_time"])
    assert signed_in(*sign_in("olga", PASSWORD))
    assert not paused().exists()


def test_an_outsider_elsewhere_cannot_lock_the_operator_out(olga):
    fail(settings.AXES_FAILURE_LIMIT * 4, address=ELSEWHERE)
    assert sign_in("olga", PASSWORD, ELSEWHERE)[0].status_code == 429
    assert signed_in(*sign_in("olga", PASSWORD, HOME))
    assert paused(address=ELSEWHERE).get().failures_since_start == 5


def test_another_user_from_the_same_address_is_unaffected(olga):
    bob = User(username="bob", imperal_id="bob", is_staff=True)
    bob.set_password(PASSWORD)
    bob.save()
    fail(settings.AXES_FAILURE_LIMIT)
    assert sign_in("olga", PASSWORD)[0].status_code == 429
    assert signed_in(*sign_in("bob", PASSWORD))


def test_a_successful_sign_in_clears_the_count(olga):
    limit = settings.AXES_FAILURE_LIMIT
    fail(limit - 1)
    assert paused().get().failures_since_start == limit - 1
    assert signed_in(*sign_in("olga", PASSWORD))
    assert not paused().exists()
    fail(limit - 1)  # a fresh count: these alone do not pause
    assert signed_in(*sign_in("olga", PASSWORD))


def test_an_operator_lifts_a_pause_of_their_own_tenant(olga):
    fail(settings.AXES_FAILURE_LIMIT)
    tina = User.objects.create(username="tina", imperal_id="tina", is_staff=True)
    for codename in ("view_accessattempt", "delete_accessattempt"):
        tina.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(tina)
    row = paused().get()
    body = {"action": "lift", "_selected_action": [str(row.pk)], "index": "0"}
    assert client.post("/admin/axes/accessattempt/", body).status_code == 302
    assert not paused().exists()
    assert signed_in(*sign_in("olga", PASSWORD))
