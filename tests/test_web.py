"""The web process answers: admin login, health, metrics."""

import pytest

pytestmark = pytest.mark.django_db


def test_admin_login_answers(client):
    assert client.get("/admin/login/").status_code == 200


def test_healthz_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_metrics_exposes_the_threat_counter(client):
    body = client.get("/metrics").content.decode()
    assert "imperal_store_threat_total" in body
