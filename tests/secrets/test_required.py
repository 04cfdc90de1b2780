"""A required secret that is not set refuses the call before the handler runs, naming the
secret, on every face (kernel, CLI, REST API); the SDK's secrets panel still renders."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from apps.extensions.errors import SecretMissing
from apps.extensions.models import Installation
from apps.store.models import Document
from tests.api.conftest import Api, token_for

from .conftest import REQUIRED, as_operator, as_user, call, panel

pytestmark = pytest.mark.django_db


def refused(tool="work", user="alice"):
    with pytest.raises(SecretMissing) as missing:
        call(tool, user, app=REQUIRED)
    return missing.value


def nothing_ran():
    return not Document.objects.exists() and not Installation.objects.exists()


def test_a_missing_user_secret_refuses_the_call_naming_it(vault_extensions, alice):
    error = refused()

    assert str(error) == (
        "vault-required.work needs the secret 'token', which is required and not "
        "set: set it with PUT /api/v1/me/secrets/vault-required/token or in the "
        "extension's secrets panel"
    )
    assert (error.code, error.status, error.secret) == ("secret_missing", 409, "token")
    assert nothing_ran()


def test_a_missing_app_secret_names_the_operator(vault_extensions, alice):
    as_user("token", "t-1", app=REQUIRED)

    error = refused()

    assert "needs the secret 'license_key'" in str(error)
    assert "an operator sets it in the admin" in str(error)
    assert nothing_ran()


def test_the_call_runs_once_every_required_secret_is_set_for_that_user(
    vault_extensions, alice, bob
):
    as_user("token", "t-123", app=REQUIRED)
    as_operator("license_key", "lic", app=REQUIRED)

    assert call("work", app=REQUIRED) == {"token_chars": 5}
    assert refused(user="bob").secret == "token"  # bob's own is not set


def test_panels_are_refused_too_but_the_secrets_panel_renders(vault_extensions, alice):
    with pytest.raises(SecretMissing, match="vault-required panel status needs"):
        panel("status", app=REQUIRED)

    rendered = json.dumps(panel("secrets", app=REQUIRED), ensure_ascii=False)

    assert "Secrets · vault-required" in rendered
    assert '"title": "token"' in rendered and "Not set" in rendered


def test_the_cli_refuses_with_a_one_line_error(vault_extensions, alice):
    out = io.StringIO()
    with pytest.raises(CommandError) as refused_cli:
        call_command("ext", "call", REQUIRED, "work", "--user", "alice", stdout=out)
    assert refused_cli.value.returncode == 2
    assert "needs the secret 'token'" in str(refused_cli.value)
    assert out.getvalue() == "" and nothing_ran()


def test_the_api_answers_409_secret_missing_naming_the_secret(vault_extensions, alice):
    api = Api(token_for(alice))

    answer = api.post(f"/api/v1/extensions/{REQUIRED}/tools/work/call", {"params": {}})

    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "secret_missing"
    assert error["detail"] == {"app_id": REQUIRED, "secret": "token"}
    assert "PUT /api/v1/me/secrets/vault-required/token" in error["message"]
    assert nothing_ran()
