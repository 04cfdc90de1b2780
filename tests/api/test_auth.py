"""Who gets in: tokens (missing, bad, expired, revoked), sessions with CSRF, operators.

As documented in README's API section: 401 without a valid credential; 403
for a user without the right (non-staff on operator routes, staff missing the
route's permission, another user_id on the call route); another user's
notification is 404, exactly as a missing one.
"""

import datetime
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from apps.accounts.models import ApiToken, SecurityEvent, User
from apps.notifications.models import Notification

from .conftest import Api, error_of, token_for

pytestmark = pytest.mark.django_db
ME = "/api/v1/me/data"
PARTITIONS = "/api/v1/operator/extensions/contacts/partitions"


def test_no_credential_is_a_401_asking_for_a_token(alice):
    response = Api().get(ME)
    assert error_of(response, 401)["code"] == "unauthenticated"
    assert response["WWW-Authenticate"].startswith("Token")


@pytest.mark.parametrize(
    "header",
    ["Token imp_u_not-a-token", "Token", "Token a b", "Token " + "x" * 300],
)
def test_a_bad_token_is_a_401(alice, header):
    response = Client().get(ME, HTTP_AUTHORIZATION=header)
    assert error_of(response, 401)["code"] == "unauthenticated"


def test_an_expired_token_is_a_401_saying_so(alice):
    raw = token_for(alice, expires_at=timezone.now() - datetime.timedelta(seconds=1))
    error = error_of(Api(raw).get(ME), 401)
    assert "expired" in error["message"]


def test_a_revoked_token_is_a_401_saying_so(alice):
    row, raw = ApiToken.issue(alice)
    ApiToken.objects.filter(pk=row.pk).update(revoked_at=timezone.now())
    assert "revoked" in error_of(Api(raw).get(ME), 401)["message"]


def test_an_inactive_users_token_is_a_401(alice):
    raw = token_for(alice)
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert error_of(Api(raw).get(ME), 401)["code"] == "unauthenticated"


def test_a_good_token_works_and_records_its_last_use(alice):
    row, raw = ApiToken.issue(alice)
    assert Api(raw).get(ME).status_code == 200
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_another_users_notification_is_a_404_and_stays_unread(alice, bob, as_alice):
    theirs = Notification.objects.create(
        tenant_id="default", app_id="probe", user_id="bob", message="for bob"
    )
    error = error_of(as_alice.post(f"/api/v1/notifications/{theirs.pk}/read"), 404)
    assert error["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.read_at is None
    listed = as_alice.get("/api/v1/notifications").json()
    assert listed["data"] == []


def test_notifications_page_filter_and_mark_read(alice, as_alice):
    rows = [
        Notification.objects.create(
            tenant_id="default", app_id="probe", user_id="alice", message=f"n{i}"
        )
        for i in range(3)
    ]
    first = as_alice.get("/api/v1/notifications?limit=2").json()
    assert [n["message"] for n in first["data"]] == ["n2", "n1"] and first["has_more"]
    rest = as_alice.get(f"/api/v1/notifications?limit=2&cursor={first['cursor']}")
    assert [n["message"] for n in rest.json()["data"]] == ["n0"]
    assert as_alice.post(f"/api/v1/notifications/{rows[0].pk}/read").json() == {
        "marked": 1
    }
    unread = as_alice.get("/api/v1/notifications?unread=true").json()["data"]
    assert [n["message"] for n in unread] == ["n2", "n1"]
    assert as_alice.post("/api/v1/notifications/read-all").json() == {"marked": 2}
    assert Notification.objects.filter(read_at__isnull=True).count() == 0


def test_a_non_staff_user_is_refused_on_operator_routes(as_alice):
    error = error_of(as_alice.get(PARTITIONS), 403)
    assert "staff" in error["message"]


def test_a_staff_user_without_the_permission_is_refused_naming_it(make_operator):
    _, api = make_operator("olga")
    error = error_of(api.get(PARTITIONS), 403)
    assert "store.view_document" in error["message"]
    assert error_of(api.get("/api/v1/operator/security-events"), 403)["code"] == (
        "forbidden"
    )


def test_viewing_does_not_allow_erasing(make_operator, alice):
    _, api = make_operator("olga", "store.view_document")
    assert api.get(PARTITIONS).status_code == 200
    error = error_of(api.delete(f"{PARTITIONS}/alice"), 403)
    assert "store.delete_document" in error["message"]


def test_an_operator_acts_in_their_own_tenant_only(make_operator):
    _, api = make_operator("olga", "store.view_document")
    error = error_of(api.get(f"{PARTITIONS}?tenant=other"), 403)
    assert "own tenant" in error["message"]
    _, root = make_operator("root", superuser=True)
    assert root.get(f"{PARTITIONS}?tenant=other").status_code == 200


def test_a_session_works_and_unsafe_methods_need_the_csrf_token(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get(ME).status_code == 200
    refused = client.post(
        "/api/v1/notifications/read-all", content_type="application/json"
    )
    assert "CSRF" in error_of(refused, 403)["message"]
    client.get("/admin/login/")  # sets the CSRF cookie
    csrf = client.cookies["csrftoken"].value
    allowed = client.post(
        "/api/v1/notifications/read-all",
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert allowed.status_code == 200


# --- Imperal's call route: user_id is never taken from the body alone ---------------

CALL = "/v1/extensions/probe/call"


def test_the_call_route_runs_as_the_authenticated_user(alice, as_alice):
    body = {"user_id": "alice", "function": "context", "params": {}}
    answer = as_alice.post(CALL, body).json()
    assert answer["status"] == "success" and answer["data"]["user"] == "alice"
    assert set(answer) == {"status", "data", "summary", "error", "ui"}


def test_another_user_id_is_a_403_and_a_security_event(alice, bob, as_alice):
    body = {"user_id": "bob", "function": "greet", "params": {"name": "x"}}
    error = error_of(as_alice.post(CALL, body), 403)
    assert "accounts.act_for_users" in error["message"]
    event = SecurityEvent.objects.get(kind="api_call_user_mismatch")
    assert (event.user_id, event.detail["asked_user"]) == ("alice", "bob")
    assert Notification.objects.count() == 0


def test_a_caller_allowed_to_act_for_users_runs_as_the_named_user(bob, make_operator):
    _, service = make_operator("svc", "accounts.act_for_users")
    body = {"user_id": "bob", "function": "context"}
    assert service.post(CALL, body).json()["data"]["user"] == "bob"
    assert SecurityEvent.objects.count() == 0


def test_the_batch_route_answers_each_call_in_order(alice, as_alice):
    body = {
        "user_id": "alice",
        "calls": [
            {"function": "greet", "params": {"name": "Ada"}},
            {"function": "greet", "params": {}},
            {"function": "nope"},
        ],
    }
    results = as_alice.post("/v1/extensions/probe/batch", body).json()["results"]
    assert results[0]["status"] == "success"
    assert results[1]["status"] == "error"
    assert results[1]["error"].startswith("invalid_params:")
    assert results[2]["error"].startswith("not_found:")
    assert Notification.objects.count() == 1  # only the first call ran


def test_an_action_result_maps_field_by_field(alice, as_alice):
    call = "/v1/extensions/api-probe/call"
    done = as_alice.post(call, {"user_id": "alice", "function": "act"}).json()
    assert done == {
        "status": "success",
        "data": {"user": "alice"},
        "summary": "done",
        "error": None,
        "ui": None,
    }
    refused = as_alice.post(
        call, {"user_id": "alice", "function": "act", "params": {"ok": False}}
    )
    assert refused.json()["status"] == "error"
    assert refused.json()["error"] == "nothing to do"


# --- manage.py user_token: expiry, listing, revoking ------------------------------------


def user_token(*args):
    out = io.StringIO()
    call_command("user_token", *args, stdout=out)
    return json.loads(out.getvalue())


def test_user_token_issues_an_expiring_token_and_lists_and_revokes_it(db):
    issued = user_token("dora", "--expires-in", "7")
    row = ApiToken.objects.get(display_prefix=issued["prefix"])
    left = row.expires_at - timezone.now()
    assert datetime.timedelta(days=6, hours=23) < left <= datetime.timedelta(days=7)
    assert Api(issued["token"]).get(ME).status_code == 200
    listed = user_token("dora", "--list")["tokens"]
    assert [(t["prefix"], t["state"]) for t in listed] == [(issued["prefix"], "active")]
    assert issued["token"] not in json.dumps(listed)
    revoked = user_token("dora", "--revoke", issued["prefix"])
    assert revoked["revoked"] == issued["prefix"]
    row.refresh_from_db()
    assert row.revoked_at is not None
    assert error_of(Api(issued["token"]).get(ME), 401)["code"] == "unauthenticated"


@pytest.mark.parametrize(
    "args, fragment",
    [
        (("--expires-in", "0"), "--expires-in must be 1-3650 days"),
        (("--revoke", "imp"), "at least 8 characters"),
        (("--revoke", "imp_u_zzzzzz"), "no unrevoked token"),
    ],
)
def test_user_token_refuses_bad_arguments_and_changes_nothing(db, args, fragment):
    user_token("erin")
    before = list(ApiToken.objects.values_list("pk", "revoked_at"))
    with pytest.raises(CommandError, match=fragment):
        user_token("erin", *args)
    assert list(ApiToken.objects.values_list("pk", "revoked_at")) == before
