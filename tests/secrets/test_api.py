"""Users set and delete their secrets through /api/v1/me/secrets/{app_id}: states go out,
values never do; every refusal names its rule and leaves the vault as it was; erase
removes a user's secrets and export lists them by name."""

import json

import pytest

from apps.secrets.models import SecretAccess, SecretValue
from tests.api.conftest import Api, error_of, token_for

from .conftest import PROBE, as_operator, as_user, call

pytestmark = pytest.mark.django_db

TOKEN = "sk-api-0b7e55a1d3"
ROUTE = f"/api/v1/me/secrets/{PROBE}"


@pytest.fixture
def api(alice):
    return Api(token_for(alice))


def put(api, name, body, app=PROBE):
    return api.request("put", f"/api/v1/me/secrets/{app}/{name}", body)


def vault():
    return sorted(
        SecretValue.objects.values_list("user_id", "name", "key_id", "ciphertext")
    )


def test_a_user_lists_the_declared_secrets_and_which_are_set(vault_extensions, api):
    as_user("api_key", TOKEN)

    answer = api.get(ROUTE)

    assert answer.status_code == 200
    body = answer.json()
    assert body["app_id"] == PROBE
    states = {s["name"]: s for s in body["secrets"]}
    assert list(states) == [
        "api_key",
        "refresh_token",
        "note",
        "client_secret",
        "fallback_secret",
    ]
    assert states["api_key"] == {
        "name": "api_key",
        "description": "Your API key for the upstream service.",
        "scope": "user",
        "write_mode": "user",
        "required": False,
        "max_bytes": 64,
        "is_set": True,
        "updated_at": states["api_key"]["updated_at"],
        "writable": True,
    }
    assert states["api_key"]["updated_at"].startswith("20")
    writable = {name: s["writable"] for name, s in states.items()}
    assert writable == {
        "api_key": True,
        "refresh_token": False,
        "note": True,
        "client_secret": False,
        "fallback_secret": False,
    }
    assert not states["note"]["is_set"] and states["note"]["updated_at"] is None
    assert TOKEN not in answer.content.decode()


def test_a_user_sets_a_secret_that_the_extension_then_reads(
    vault_extensions, api, alice
):
    answer = put(api, "api_key", {"value": TOKEN})

    assert answer.status_code == 200
    assert answer.json()["is_set"] is True and answer.json()["name"] == "api_key"
    assert TOKEN not in answer.content.decode()
    assert call("read", name="api_key") == {"value": TOKEN}
    row = SecretValue.objects.get()
    assert (row.user_id, row.updated_by) == ("alice", "user alice")
    assert SecretAccess.objects.filter(action="write", actor="user").count() == 1


@pytest.mark.parametrize(
    ("name", "body", "status", "code", "fragment"),
    [
        ("refresh_token", {"value": "x"}, 403, "forbidden", "only the extension"),
        ("client_secret", {"value": "x"}, 403, "forbidden", "only an operator"),
        ("api_key", {"value": "k" * 65}, 413, "payload_too_large", "at most 64"),
        ("api_keys", {"value": "x"}, 404, "not_found", "declares no secret"),
        ("api_key", {"value": 12345}, 400, "invalid_argument", "Must be a string"),
        ("api_key", {"value": None}, 400, "invalid_argument", "may not be null"),
        ("api_key", {}, 400, "invalid_argument", "required"),
        ("api_key", ["x"], 400, "invalid_argument", ""),
    ],
)  # fmt: skip
def test_a_refused_put_names_its_rule_and_changes_nothing(
    vault_extensions, api, name, body, status, code, fragment
):
    as_user("api_key", TOKEN)
    before = vault()

    error = error_of(put(api, name, body), status)

    assert error["code"] == code
    assert fragment in json.dumps(error)
    assert "k" * 65 not in json.dumps(error) and TOKEN not in json.dumps(error)
    assert vault() == before


def test_an_unknown_extension_is_a_404(vault_extensions, api):
    assert error_of(api.get("/api/v1/me/secrets/nope"), 404)["code"] == "not_found"
    error_of(put(api, "api_key", {"value": "x"}, app="nope"), 404)
    assert vault() == []


def test_a_user_deletes_a_secret_they_may_write(vault_extensions, api):
    as_user("api_key", TOKEN)
    call("write", name="refresh_token", value="ext-written")

    first = api.delete(f"{ROUTE}/api_key")
    assert (first.status_code, first.json()) == (
        200,
        {"name": "api_key", "was_set": True},
    )
    assert api.delete(f"{ROUTE}/api_key").json()["was_set"] is False
    error = error_of(api.delete(f"{ROUTE}/refresh_token"), 403)
    assert "write_mode='extension'" in error["message"]
    assert list(SecretValue.objects.values_list("name", flat=True)) == ["refresh_token"]


def test_an_outsider_sees_and_touches_only_their_own(vault_extensions, api, charlie):
    as_user("api_key", TOKEN)
    outsider = Api(token_for(charlie))
    before = vault()

    states = {s["name"]: s["is_set"] for s in outsider.get(ROUTE).json()["secrets"]}
    assert states["api_key"] is False
    assert outsider.delete(f"{ROUTE}/api_key").json()["was_set"] is False
    put(outsider, "api_key", {"value": "charlie's"})

    assert call("read", name="api_key") == {"value": TOKEN}
    assert call("read", "charlie", name="api_key") == {"value": "charlie's"}
    assert before[0] in vault() and len(vault()) == 2


def test_erase_removes_the_users_secrets_but_not_the_app_secret(
    vault_extensions, api, bob
):
    as_user("api_key", TOKEN)
    as_user("note", "mine")
    as_user("api_key", "bob's", user="bob")
    as_operator("client_secret", "shared")

    erased = api.delete(f"/api/v1/me/data?extension={PROBE}")

    assert erased.status_code == 200
    assert erased.json()["secrets_deleted"] == 2
    assert sorted(SecretValue.objects.values_list("user_id", "name")) == [
        ("__app__", "client_secret"),
        ("bob", "api_key"),
    ]
    audited = SecretAccess.objects.filter(action="erase")
    assert sorted(audited.values_list("name", "actor", "actor_name")) == [
        ("api_key", "user", "alice"),
        ("note", "user", "alice"),
    ]


def test_export_lists_secret_names_and_whether_set_never_values(vault_extensions, api):
    as_user("api_key", TOKEN)
    as_operator("client_secret", "shared-app-value")

    answer = api.get("/api/v1/me/data/export")
    text = b"".join(answer.streaming_content).decode()

    body = json.loads(text)
    mine = [s for s in body["secrets"] if s["app_id"] == PROBE]
    assert [(s["name"], s["is_set"]) for s in mine] == [
        ("api_key", True),
        ("refresh_token", False),
        ("note", False),
    ]
    assert TOKEN not in text and "shared-app-value" not in text


def test_my_data_counts_the_secrets_set(vault_extensions, api):
    as_user("api_key", TOKEN)
    summary = api.get("/api/v1/me/data").json()
    (probe,) = [e for e in summary["extensions"] if e["app_id"] == PROBE]
    assert (probe["secrets_set"], probe["documents"]) == (1, 0)
