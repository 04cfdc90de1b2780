"""A Celery worker serves the series of what it ran on IMPERAL_WORKER_METRICS_PORT."""

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from apps.scheduler.models import ScheduleRun
from tests.compat.server import free_port
from tests.scheduler.worker import Broker, Worker, wait_until, workers_fixture

from .conftest import APP, EXTENSION

__all__ = ["workers_fixture"]  # the workers fixture
pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def scrape(port):
    """Return {(sample name, frozenset of labels): value} of the worker's /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_a_worker_serves_the_schedule_runs_it_fired(probe, workers, tmp_path):
    broker = Broker("filesystem", tmp_path)
    port = free_port()
    metrics_dir = tmp_path / "worker-metrics"
    metrics_dir.mkdir()
    worker = Worker(
        broker,
        tmp_path,
        extensions=EXTENSION,
        env={
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
            "IMPERAL_WORKER_METRICS_PORT": str(port),
        },
    )
    workers.append(worker.start())

    for n in range(2):
        broker.send_fire(APP, "sweep", slot=f"manual:obs-{n}", trigger="manual")
    wait_until(
        lambda: ScheduleRun.objects.filter(app_id=APP, status="success").count() == 2,
        60,
        "two fires run by the worker",
    )

    samples = scrape(port)
    labels = {"app": APP, "schedule": "sweep", "outcome": "success"}
    assert samples[("imperal_schedule_runs_total", frozenset(labels.items()))] == 2
    timed = {"app": APP, "schedule": "sweep"}
    assert (
        samples[("imperal_schedule_run_seconds_count", frozenset(timed.items()))] == 2
    )
    # The samples came through the worker's own directory (multiprocess mode).
    assert list(metrics_dir.glob("*.db"))
