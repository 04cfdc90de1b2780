"""Operators set app secrets in the admin through a write-only field; no admin page shows a
value; users' secrets are view-only there; an operator sees only their own tenant."""

import html

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from apps.accounts.models import User
from apps.secrets.models import SecretAccess, SecretValue

from .conftest import PROBE, as_user, call

pytestmark = pytest.mark.django_db

TOKEN = "sk-admin-e4a90c2f"
CHANGELIST = "/admin/secrets/secretvalue/"
ADD = f"{CHANGELIST}add/"


def page(response):
    assert response.status_code == 200, response.status_code
    return html.unescape(response.content.decode())


def test_an_operator_sets_an_app_secret_through_a_write_only_field(
    vault_extensions, admin_client, alice, bob
):
    form = page(admin_client.get(ADD))
    assert 'value="vault-probe/client_secret"' in form
    assert 'type="password"' in form and "Set an app secret" in form

    answer = admin_client.post(
        ADD, {"secret": f"{PROBE}/client_secret", "tenant": "default", "value": TOKEN}
    )

    assert answer.status_code == 302
    row = SecretValue.objects.get()
    assert (row.scope, row.user_id, row.updated_by) == (
        "app",
        "__app__",
        "operator admin",
    )
    assert call("read", name="client_secret") == {"value": TOKEN}
    assert call("read", "bob", name="client_secret") == {"value": TOKEN}
    assert SecretAccess.objects.filter(action="write", actor="operator").count() == 1
    for url in (CHANGELIST, f"{CHANGELIST}{row.pk}/change/", ADD):
        text = page(admin_client.get(url))
        assert TOKEN not in text
        assert bytes(row.ciphertext).hex()[:16] not in text


def test_a_refused_value_names_its_rule_and_is_not_echoed(
    vault_extensions, admin_client
):
    too_long = "v" * 4097  # client_secret holds 4096 bytes

    for data, fragment in (
        ({"secret": f"{PROBE}/client_secret", "tenant": "default", "value": too_long},
         "holds at most 4096 (max_bytes)"),
        ({"secret": f"{PROBE}/api_key", "tenant": "default", "value": "x"},
         "Select a valid choice"),
    ):  # fmt: skip
        text = page(admin_client.post(ADD, data))
        assert fragment in text
        assert too_long not in text
    assert not SecretValue.objects.exists()


def test_replacing_and_deleting_an_app_secret_go_through_the_vault(
    vault_extensions, admin_client, alice
):
    admin_client.post(
        ADD, {"secret": f"{PROBE}/client_secret", "tenant": "default", "value": TOKEN}
    )
    row = SecretValue.objects.get()

    changed = admin_client.post(f"{CHANGELIST}{row.pk}/change/", {"value": "second"})
    assert changed.status_code == 302
    assert call("read", name="client_secret") == {"value": "second"}

    deleted = admin_client.post(f"{CHANGELIST}{row.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not SecretValue.objects.exists()
    by_operator = SecretAccess.objects.filter(actor="operator").order_by("id")
    assert list(by_operator.values_list("action", "actor_name")) == [
        ("write", "admin"),
        ("write", "admin"),
        ("delete", "admin"),
    ]


def test_a_users_secret_is_view_only_in_the_admin(
    vault_extensions, admin_client, alice
):
    as_user("api_key", TOKEN)
    row = SecretValue.objects.get()
    url = f"{CHANGELIST}{row.pk}/change/"

    text = page(admin_client.get(url))
    assert "alice" in text and "api_key" in text and TOKEN not in text
    assert 'name="value"' not in text and 'name="_save"' not in text
    assert admin_client.post(url, {"value": "forged"}).status_code == 403
    assert admin_client.post(f"{CHANGELIST}{row.pk}/delete/").status_code == 403
    assert call("read", name="api_key") == {"value": TOKEN}


def test_an_operator_sees_only_their_own_tenants_secrets(vault_extensions, alice):
    as_user("api_key", TOKEN)
    row = SecretValue.objects.get()
    operator = User.objects.create(
        username="olga", imperal_id="olga", tenant_id="other", is_staff=True
    )
    operator.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_secretvalue", "add_secretvalue", "view_secretaccess"]
        )
    )
    client = Client()
    client.force_login(operator)

    assert "api_key" not in page(client.get(CHANGELIST))
    assert (
        client.get(f"{CHANGELIST}{row.pk}/change/").status_code == 404
    )  # as any other tenant's row
    refused = page(
        client.post(
            ADD, {"secret": f"{PROBE}/client_secret", "tenant": "default", "value": "x"}
        )
    )
    assert "operators set secrets in their own tenant 'other'" in refused
    assert SecretValue.objects.count() == 1
