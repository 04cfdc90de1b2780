"""ctx.storage on both storage backends: a folder (the embedded default) and an
S3-compatible server (moto's, in this process, on loopback), with three users."""

import uuid

import boto3
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings as django_settings
from django.core.files.storage import storages
from imperal_sdk import Extension
from moto.server import ThreadedMotoServer

from apps.accounts.partition import Partition
from apps.extensions.registry import get_registry
from apps.files.face import StorageFace
from apps.files.models import StoredFile

APP = "files-probe"
OTHER_APP = "other-probe"
S3_KEYS = {"access_key": "testing", "secret_key": "testing"}


@pytest.fixture(autouse=True)
def probes():
    """Load the test extensions (security events name only loaded extensions)."""
    for app_id in (APP, OTHER_APP):
        get_registry().add("tests.files", Extension(app_id, description="files"))


@pytest.fixture(scope="session")
def s3_server():
    """A local S3-compatible server (moto) on 127.0.0.1; its endpoint URL."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_backend(endpoint, bucket):
    """The STORAGES entry of a django-storages S3Storage on ``endpoint``'s ``bucket``."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint,
            "region_name": "us-east-1",
            "max_memory_size": django_settings.FILE_UPLOAD_MAX_MEMORY_SIZE,
            **S3_KEYS,
        },
    }


@pytest.fixture(params=["filesystem", "s3"])
def backend(request, settings, tmp_path):
    """Make STORAGES["extfiles"] each backend in turn; return its name."""
    if request.param == "filesystem":
        entry = {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "files")},
        }
        (tmp_path / "files").mkdir()
    else:
        endpoint = request.getfixturevalue("s3_server")
        bucket = f"imperal-{uuid.uuid4().hex[:12]}"
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket=bucket)
        entry = s3_backend(endpoint, bucket)
    settings.STORAGES = {**settings.STORAGES, "extfiles": entry}
    return request.param


def partition(user="alice", app=APP):
    return Partition("default", app, user)


def storage_of(user="alice", app=APP):
    """The ctx.storage face of ``user`` in ``app``."""
    return StorageFace(partition(user, app))


def run(awaitable):
    """Await ``awaitable`` from this (the test's) thread, as a tool call does: the
    core's database work runs on the test's own connection."""

    async def wait():
        return await awaitable

    return async_to_sync(wait)()


def stored():
    """Every StoredFile as comparable tuples: the state a refusal must leave alone."""
    return sorted(
        StoredFile.objects.values_list(
            "tenant_id", "app_id", "user_id", "path", "size", "storage_key"
        )
    )


def objects():
    """Every key in the extfiles storage (walked through Django's storage API)."""
    storage = storages["extfiles"]
    keys = []
    directories, _ = storage.listdir("")
    for directory in directories:
        keys += [f"{directory}/{name}" for name in storage.listdir(directory)[1]]
    return sorted(keys)
