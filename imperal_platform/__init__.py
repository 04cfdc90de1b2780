"""imperal-platform: a self-hostable web-kernel for Imperal extensions."""

from .celery import app as celery_app

__all__ = ["celery_app"]
