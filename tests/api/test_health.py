"""/healthz: the database, the caches and the broker, each reported; 503 names what is
down. It answers anyone, so it publishes states only, never why."""

import logging
import socket
import sys

import pytest
from django.test import Client
from django.utils import timezone

from apps.common.errors import CredentialMaskingFormatter
from apps.extensions.health import run_health_checks
from apps.extensions.models import ExtensionHealth
from imperal_platform.celery import app as celery_app

from .conftest import EXTENSIONS, Api, error_of

pytestmark = pytest.mark.django_db


def closed_port():
    """Return a local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_healthz_reports_each_service(db):
    response = Api().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "broker": "ok"},
        "extensions": {},
    }


def test_healthz_shows_each_extensions_last_health_check(db):
    ExtensionHealth.objects.create(
        app_id="my-app",
        status="degraded",
        checked_at=timezone.now(),
        due_at=timezone.now(),
        error="slow",
    )
    body = Api().get("/healthz").json()
    assert body["status"] == "ok"  # informational: an extension never fails it
    assert body["extensions"] == {"my-app": {"status": "degraded"}}


def test_a_broker_that_is_down_is_a_503_naming_it(db):
    saved, port = celery_app.conf.broker_url, closed_port()
    celery_app.conf.broker_url = f"redis://app:s3cr3t@127.0.0.1:{port}/0"
    try:
        response = Api().get("/healthz")
    finally:
        celery_app.conf.broker_url = saved
    error = error_of(response, 503)
    assert error["code"] == "unavailable"
    # The state only: why the broker is down (and where it is) is in the log.
    assert error["message"] == "down: broker; ok: database, cache"
    assert str(port) not in response.content.decode()
    assert response["Retry-After"] == "5"


def test_a_cache_that_is_down_is_a_503_naming_it(db, settings):
    settings.CACHES = {
        **settings.CACHES,
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        },
    }
    error = error_of(Api().get("/healthz"), 503)
    assert error["message"].startswith("down: cache; ok: ")
    assert "database" in error["message"].split("ok:")[1]


SECRET_PARTS = ("s3cr3t", "db.internal", "postgres://", "could not connect", "5432")


def test_healthz_publishes_an_extensions_status_never_its_message(
    use_extensions, caplog, django_user_model
):
    use_extensions(*EXTENSIONS, "tests.fixtures.extensions.health_leak")
    assert run_health_checks(timezone.now())["health-leak"] == "unhealthy"

    response = Api().get("/healthz")
    assert response.status_code == 200
    assert response.json()["extensions"] == {"health-leak": {"status": "unhealthy"}}
    for part in (*SECRET_PARTS, "RuntimeError"):
        assert part not in response.content.decode()

    # The operator still sees the message, in the admin and the log, masked.
    operator = django_user_model.objects.create(
        username="olga", imperal_id="olga", is_staff=True, is_superuser=True
    )
    admin = Client()
    admin.force_login(operator)
    page = admin.get("/admin/extensions/extensionhealth/").content.decode()
    assert "could not connect to postgres://app:***@db.internal:5432/app" in page
    assert "s3cr3t" not in page
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "health-leak health_check failed: RuntimeError: could not connect" in logged
    assert "s3cr3t" not in logged
    assert "s3cr3t" not in ExtensionHealth.objects.get(app_id="health-leak").error


def test_the_log_masks_a_password_in_a_traceback_too():
    """The configured formatter of the platform's log handler masks every line."""
    formatters = [
        handler.formatter
        for handler in logging.getLogger().handlers
        if isinstance(handler.formatter, CredentialMaskingFormatter)
    ]
    assert formatters, "the root logger has no credential-masking handler"
    try:
        raise RuntimeError("could not connect to redis://:s3cr3t@cache.internal:6379")
    except RuntimeError:
        record = logging.getLogger("probe").makeRecord(
            "probe", logging.ERROR, __file__, 1, "dsn %s", ("pwd=s3cr3t",),
            sys.exc_info(),
        )  # fmt: skip
    text = formatters[0].format(record)
    assert "redis://:***@cache.internal:6379" in text and "pwd=***" in text
    assert "Traceback" in text and "s3cr3t" not in text
