"""/healthz: the database, the caches and the broker, each reported; 503 names what is down."""

import socket

import pytest

from imperal_platform.celery import app as celery_app

from .conftest import Api, error_of

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
    from django.utils import timezone

    from apps.extensions.records import ExtensionHealth

    ExtensionHealth.objects.create(
        app_id="my-app",
        status="degraded",
        checked_at=timezone.now(),
        due_at=timezone.now(),
        error="slow",
    )
    body = Api().get("/healthz").json()
    assert body["status"] == "ok"  # informational: an extension never fails it
    assert body["extensions"]["my-app"]["status"] == "degraded"
    assert body["extensions"]["my-app"]["error"] == "slow"


def test_a_broker_that_is_down_is_a_503_naming_it(db):
    saved = celery_app.conf.broker_url
    celery_app.conf.broker_url = f"redis://127.0.0.1:{closed_port()}/0"
    try:
        response = Api().get("/healthz")
    finally:
        celery_app.conf.broker_url = saved
    error = error_of(response, 503)
    assert error["code"] == "unavailable"
    assert error["message"].startswith("down: broker (")
    assert "ok: database, cache" in error["message"]
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
    assert error["message"].startswith("down: cache (")
    assert "database" in error["message"].split("ok:")[1]
