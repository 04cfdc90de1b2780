"""An operator allowed to act for users names another tenant on Imperal's call route.

``act_for_users`` lets a staff user run a function as another user of their
own tenant; naming any other tenant is a 403 in the one error shape, a
SecurityEvent and a count on the threat counter, and the handler never runs.
"""

import pytest
from prometheus_client import REGISTRY

from apps.accounts.models import SecurityEvent, User
from apps.notifications.models import Notification
from tests.api.conftest import Api, error_of, token_for

pytestmark = pytest.mark.django_db

CALL = "/v1/extensions/probe/call"
BATCH = "/v1/extensions/probe/batch"
KIND = "api_call_tenant_mismatch"


@pytest.fixture(autouse=True)
def probe(use_extensions):
    return use_extensions("tests.fixtures.extensions.probe")


@pytest.fixture
def people(db):
    """ann of acme, gus of globex."""
    for name, tenant in (("ann", "acme"), ("gus", "globex")):
        User.objects.create(username=name, imperal_id=name, tenant_id=tenant)


def _operator(name, superuser=False):
    user = User.objects.create(
        username=name,
        imperal_id=name,
        tenant_id="acme",
        is_staff=True,
        is_superuser=superuser,
    )
    if not superuser:
        user.user_permissions.add(_act_for_users())
    return Api(token_for(user))


def _act_for_users():
    from django.contrib.auth.models import Permission

    return Permission.objects.get(
        content_type__app_label="accounts", codename="act_for_users"
    )


def threats():
    value = REGISTRY.get_sample_value(
        "imperal_store_threat_total", {"kind": KIND, "app_id": "probe"}
    )
    return value or 0


def stored():
    return (
        list(Notification.objects.values_list("tenant_id", "user_id", "message")),
        list(SecurityEvent.objects.values_list("kind", "tenant_id", "user_id")),
    )


GREET = {"function": "greet", "params": {"name": "x"}}


@pytest.mark.parametrize("route", [CALL, BATCH])
def test_an_operator_cannot_call_as_a_user_of_another_tenant(people, route):
    olga = _operator("olga")
    notes_before, events_before = stored()
    counted = threats()
    body = {"user_id": "gus", "tenant_id": "globex"}
    body.update({"calls": [GREET]} if route == BATCH else GREET)
    error = error_of(olga.post(route, body), 403)
    assert "own tenant 'acme'" in error["message"]
    assert threats() == counted + 1
    event = SecurityEvent.objects.get(kind=KIND)
    assert (event.tenant_id, event.user_id) == ("acme", "olga")
    assert event.detail == {"asked_user": "gus", "asked_tenant": "globex"}
    notes, events = stored()
    assert notes == notes_before and len(events) == len(events_before) + 1


def test_an_operator_calls_as_a_user_of_their_own_tenant(people):
    olga = _operator("olga")
    for tenant in ("acme", "default"):  # the SDK's "default" means the caller's own
        answer = olga.post(
            CALL, {"user_id": "ann", "tenant_id": tenant, "function": "context"}
        ).json()
        assert (answer["data"]["user"], answer["data"]["tenant"]) == ("ann", "acme")
    assert not SecurityEvent.objects.exists()


def test_a_superuser_may_name_another_tenant(people):
    root = _operator("root", superuser=True)
    body = {"user_id": "gus", "tenant_id": "globex", "function": "context"}
    answer = root.post(CALL, body).json()
    assert (answer["data"]["user"], answer["data"]["tenant"]) == ("gus", "globex")
    assert not SecurityEvent.objects.exists()
