"""The Celery application; its settings are the CELERY_* names in settings.py.

A worker's pool processes trace when OTEL_* variables ask for it, and the
worker serves its processes' metrics on IMPERAL_WORKER_METRICS_PORT when set
(docs/operators/observability.md).
"""

import os

from celery import Celery
from celery.signals import worker_init, worker_process_init
from django.conf import settings

from apps.common.telemetry import metrics, tracing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")

app = Celery("imperal_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_process_init.connect(weak=False)
def _trace_pool_process(**kwargs):
    # After the fork: the span exporter's thread must be the child's own.
    tracing.configure(instrument_django=False)


@worker_init.connect(weak=False)
def _start_worker_telemetry(**kwargs):
    # A solo or threads pool runs tasks in this process: it traces here.
    tracing.configure(instrument_django=False)
    if settings.IMPERAL_WORKER_METRICS_PORT:
        metrics.serve_on_port(
            settings.IMPERAL_WORKER_METRICS_PORT, settings.IMPERAL_WORKER_METRICS_HOST
        )
