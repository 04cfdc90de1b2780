import pytest

from imperal_platform.celery import app as celery_app


@pytest.fixture
def celery_eager():
    """Run what the scheduler queues for Celery at once, in this process."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False
