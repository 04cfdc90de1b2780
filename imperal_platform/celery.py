"""The Celery application; its settings are the CELERY_* names in settings.py."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imperal_platform.settings")

app = Celery("imperal_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
