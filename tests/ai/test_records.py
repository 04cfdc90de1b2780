"""ctx.ai call records: pruned past their retention like outbound call records, listed
read-only in the admin, and the gateway route loud when no provider is configured."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from apps.accounts.models import User
from apps.ai.models import AICall
from apps.ai.retention import prune_ai_calls
from apps.ai.tasks import PRUNE_TASK, PRUNER_NAME
from apps.extensions.sync import sync_extensions
from apps.gateway.tokens import issue_token

from .conftest import APP

pytestmark = pytest.mark.django_db


def a_call(started_at, **fields):
    return AICall.objects.create(
        tenant_id="default",
        app_id=APP,
        user_id="alice",
        started_at=started_at,
        provider="openai_compatible",
        model="m",
        input_tokens=3,
        output_tokens=4,
        duration_ms=12.5,
        status="ok",
        **fields,
    )


def test_calls_past_the_retention_are_pruned(settings):
    settings.IMPERAL_AI_CALL_RETENTION_DAYS = 30
    now = timezone.now()
    a_call(now - datetime.timedelta(days=31))
    kept = a_call(now - datetime.timedelta(days=29))
    assert prune_ai_calls(now=now) == 1
    assert list(AICall.objects.all()) == [kept]
    settings.IMPERAL_AI_CALL_RETENTION_DAYS = 0
    assert prune_ai_calls(now=now + datetime.timedelta(days=400)) == 0


def test_beat_prunes_them_hourly(use_extensions):
    sync_extensions(use_extensions("tests.ai.ai_probe"))
    pruner = PeriodicTask.objects.get(name=PRUNER_NAME)
    assert (pruner.task, pruner.crontab.minute, pruner.crontab.hour) == (
        PRUNE_TASK,
        "29",
        "*",
    )


def test_the_admin_lists_calls_without_prompts_and_read_only():
    a_call(timezone.now(), error_code="")
    user = User.objects.create(username="olga", imperal_id="olga", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_aicall"))
    client = Client()
    client.force_login(user)
    page = client.get("/admin/ai/aicall/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "3 / 4" in text and f"{APP} · alice" in text
    assert "/admin/ai/aicall/add/" not in text


def test_the_gateway_route_names_the_settings_when_no_provider_is_configured(
    use_extensions, alice, settings
):
    settings.LLM_PROVIDER = ""
    sync_extensions(use_extensions("tests.ai.ai_probe"))
    token = issue_token(APP, user_id="alice").raw
    answer = Client().post(
        "/v1/internal/ai/complete",
        data={"prompt": "hi", "model": "x", "extension_id": APP},
        content_type="application/json",
        HTTP_X_SERVICE_TOKEN=token,
    )
    assert answer.status_code == 501
    error = answer.json()["error"]
    assert error["code"] == "not_served"
    assert "LLM_PROVIDER" in error["message"] and "LLM_BASE_URL" in error["message"]
    assert not AICall.objects.exists()
