"""No test sends traffic off this machine: the suite's sockets, and those of the
processes it starts, connect to loopback (and unix sockets) only.

The refused targets are addresses of this machine that are not in the rule
(0.0.0.0, 127.0.0.2), so even a broken guard would send nothing out.
"""

import os
import socket
import subprocess
import sys
import threading

import pytest
from django.conf import settings
from pytest_socket import SocketConnectBlockedError


@pytest.fixture
def listener():
    """A TCP listener on every local address; return its port."""
    server = socket.create_server(("0.0.0.0", 0))
    accepting = threading.Thread(target=_accept_all, args=(server,), daemon=True)
    accepting.start()
    yield server.getsockname()[1]
    server.close()


def _accept_all(server):
    while True:
        try:
            connection, _ = server.accept()
        except OSError:
            return
        connection.close()


def test_the_suite_itself_connects_to_loopback_only(listener):
    socket.create_connection(("127.0.0.1", listener), timeout=5).close()
    for host in ("0.0.0.0", "127.0.0.2"):
        with (
            pytest.warns(UserWarning, match=host),
            pytest.raises(SocketConnectBlockedError),
        ):
            socket.create_connection((host, listener), timeout=5)


def test_a_process_the_suite_starts_keeps_the_rule(listener):
    assert os.environ["IMPERAL_TEST_ALLOW_HOSTS"] == "127.0.0.1,::1"
    probe = (
        "import django, socket, sys; django.setup()\n"
        "socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5).close()\n"
        "try:\n"
        "    socket.create_connection(('0.0.0.0', int(sys.argv[1])), timeout=5)\n"
        "except RuntimeError as refused:\n"
        "    print('refused:', type(refused).__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe, str(listener)],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "imperal_platform.settings"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "refused: SocketConnectBlockedError" in result.stdout
