"""The production server on the test database, and the clients the suite drives it with."""

import httpx
import pytest
from imperal_sdk.store.client import StoreClient

from apps.accounts.identity import PlatformUserContext
from apps.accounts.models import ApiToken
from apps.extensions.context import build_context
from apps.gateway.tokens import issue_token
from tests.compat.server import LiveServer

EXTENSIONS = ",".join(
    (
        "tests.reliability.extension",
        "tests.reliability.extension_b",
        "tests.fixtures.extensions.cache_probe",
    )
)
APPS = ("reliable", "reliable-b")


class ActingStoreClient(StoreClient):
    """imperal-sdk's StoreClient naming its user in X-Acting-User (extension-wide token)."""

    def _headers(self):
        return {**super()._headers(), "X-Acting-User": self._user_id}


@pytest.fixture(scope="module")
def platform_server(django_db_setup, django_db_blocker, tmp_path_factory):
    """scripts/serve.sh on the test database for the module; its log keeps no token."""
    server = LiveServer(tmp_path_factory.mktemp("live"), extensions=EXTENSIONS)
    server.tokens = []
    server.start()
    yield server
    server.stop()
    log = server.log()
    for raw in server.tokens:
        assert raw not in log


@pytest.fixture
def registry(use_extensions):
    return use_extensions(*EXTENSIONS.split(","))


def in_process(registry, app_id, user_id):
    """Return the kernel's ctx of ``user_id`` in extension ``app_id``."""
    user = PlatformUserContext(
        imperal_id=user_id, email="", tenant_id="default", role="user"
    )
    return build_context(registry.get(app_id).ext, user)


def service_token(server, app_id):
    """Issue an extension-wide gateway token the server will accept; return it raw."""
    raw = issue_token(app_id).raw
    server.tokens.append(raw)
    return raw


def api_token(server, user):
    raw = ApiToken.issue(user)[1]
    server.tokens.append(raw)
    return raw


def sdk_store(server, app_id, user_id):
    """imperal-sdk's StoreClient for ``user_id`` in ``app_id``, over the live server."""
    return ActingStoreClient(
        server.url,
        extension_id=app_id,
        user_id=user_id,
        service_token=service_token(server, app_id),
    )


def http(server, token=None, service=None):
    """Return an httpx.Client on the server with a user or a service credential."""
    headers = {}
    if token:
        headers["Authorization"] = f"Token {token}"
    if service:
        headers["X-Service-Token"] = service
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)
