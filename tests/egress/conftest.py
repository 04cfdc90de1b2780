"""Fixtures of the ctx.http tests: loopback upstreams, a fake DNS at the edge,
a ctx.http of a test extension, the records it leaves."""

import asyncio
import ipaddress
import json
import uuid

import pytest
from imperal_sdk import Extension

from apps.accounts.models import SecurityEvent
from apps.accounts.partition import Partition
from apps.egress.face import EgressHTTPClient
from apps.egress.models import OutboundCall
from apps.egress.records import recorder
from apps.extensions.registry import get_registry

from .upstream import Upstream


@pytest.fixture
def upstream():
    """A live HTTP server on 127.0.0.1."""
    server = Upstream()
    yield server
    server.stop()


@pytest.fixture
def other_upstream():
    """A second live server on 127.0.0.1, on a port nothing allows."""
    server = Upstream()
    yield server
    server.stop()


class FakeResolver:
    """DNS at the network edge: ``answers`` maps a name to its addresses."""

    def __init__(self, answers):
        self.answers = {
            name: tuple(ipaddress.ip_address(a) for a in addresses)
            for name, addresses in answers.items()
        }
        self.asked = []

    async def resolve(self, host, port):
        self.asked.append((host, port))
        try:
            return self.answers[host]
        except KeyError:
            raise OSError(f"fake DNS: no such name {host!r}") from None


@pytest.fixture
def app_id():
    """A loaded test extension's id, of this test alone (its rate window is its own).

    Loaded, as any extension calling ctx.http is: the security counter and
    events name only loaded extensions.
    """
    app_id = f"egress-{uuid.uuid4().hex[:10]}"
    get_registry().add("tests.egress", Extension(app_id, description="ctx.http tests"))
    return app_id


@pytest.fixture
def allow(settings, app_id):
    """Return a function setting IMPERAL_EGRESS_ALLOW for this test's extension."""

    def set_entries(*entries, public=True):
        settings.IMPERAL_EGRESS_ALLOW = json.dumps({app_id: list(entries)})
        settings.IMPERAL_EGRESS_PUBLIC = public

    return set_entries


@pytest.fixture
def http(app_id):
    """Return a function building this extension's ctx.http for alice."""

    def build(resolver=None, user="alice"):
        return EgressHTTPClient(Partition("default", app_id, user), resolver=resolver)

    return build


def run(awaitable):
    """Run one ctx.http call to completion on a loop of its own; return its result."""

    async def wait():
        return await awaitable

    return asyncio.run(wait())


def calls_of(app_id):
    """Return the stored OutboundCall rows of ``app_id``, oldest first."""
    assert recorder.flush(), "outbound call records were not stored in time"
    return list(OutboundCall.objects.filter(app_id=app_id).order_by("started_at", "id"))


def refusals_of(app_id):
    return list(SecurityEvent.objects.filter(kind="egress_refused", app_id=app_id))
