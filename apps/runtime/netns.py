"""A network namespace for one extension's workers, whose only ways out are two relays.

The namespace (``ip netns add``) has a loopback interface and nothing else:
no route leaves it, and nothing of the host's loopback (PostgreSQL, Redis,
the platform) is in it. The platform opens two listening sockets *inside*
it — a thread enters the namespace (setns(2)), binds, and leaves; a socket
stays in the namespace it was made in — and serves them from a thread of its
own in the host's namespace:

- ``127.0.0.1:<gateway port>``: a forwarder to the platform's gateway;
- ``127.0.0.1:3128``: the egress proxy (HTTP CONNECT / absolute-form), which
  applies the egress guard to every destination.

Workers are started inside with ``nsenter --net=/run/netns/<name>``.
"""

import asyncio
import ctypes
import logging
import os
import socket
import subprocess
import threading

from apps.common.relay import relay

from .host import host_support, process_alive

logger = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
PROXY_PORT = 3128  # the conventional forward-proxy port; free in a new namespace
NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
BACKLOG = 128
STOP_TIMEOUT_SECONDS = 5


class WorkerNetwork:
    """One extension's namespace and the relays serving it (``open`` / ``close``).

    ``gateway`` is the (host, port) the forwarder connects to;
    ``proxy_handler`` an asyncio ``start_server`` callback (the egress proxy).
    The namespace is named ``<prefix>-<pid>``: a supervisor's own, and the
    ones of dead supervisors are removed on open.
    """

    def __init__(self, prefix, gateway, proxy_handler):
        self.prefix = prefix
        self.name = f"{prefix}-{os.getpid()}"
        self.path = os.path.join(NETNS_DIR, self.name)
        self.gateway = gateway
        self.proxy_handler = proxy_handler
        self.gateway_port = gateway[1]
        self.proxy_port = PROXY_PORT if gateway[1] != PROXY_PORT else PROXY_PORT + 1
        self._ip = host_support().tools["ip"]
        self._loop = None
        self._thread = None

    @property
    def gateway_url(self):
        return f"http://{LOOPBACK}:{self.gateway_port}"

    @property
    def proxy_url(self):
        return f"http://{LOOPBACK}:{self.proxy_port}"

    @property
    def no_proxy(self):
        """NO_PROXY inside: the gateway forwarder alone goes direct."""
        return f"{LOOPBACK}:{self.gateway_port}"

    def enter_args(self, nsenter):
        """Return the argument prefix that runs a command inside the namespace."""
        return [nsenter, f"--net={self.path}", "--"]

    def open(self):
        """Create the namespace and start its relays; return self.

        Raises OSError (or subprocess.CalledProcessError) when the host refuses.
        """
        self._remove_stale()
        if os.path.exists(self.path):
            self._ip_run("netns", "delete", self.name)
        self._ip_run("netns", "add", self.name)
        try:
            self._ip_run("-n", self.name, "link", "set", "lo", "up")
            sockets = listen_inside(self.path, [self.gateway_port, self.proxy_port])
            self._start(sockets)
        except BaseException:
            self._ip_run("netns", "delete", self.name, check=False)
            raise
        return self

    def close(self):
        """Stop the relays and delete the namespace; return None."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(STOP_TIMEOUT_SECONDS)
            self._loop = None
        self._ip_run("netns", "delete", self.name, check=False)

    def _start(self, sockets):
        gateway_socket, proxy_socket = sockets
        loop = asyncio.new_event_loop()
        ready = threading.Event()

        async def serve():
            await asyncio.start_server(self._forward, sock=gateway_socket)
            await asyncio.start_server(self.proxy_handler, sock=proxy_socket)

        def run():
            asyncio.set_event_loop(loop)
            loop.run_until_complete(serve())
            ready.set()
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(
            target=run, name=f"worker-net-{self.name}", daemon=True
        )
        self._thread.start()
        ready.wait(STOP_TIMEOUT_SECONDS)

    async def _forward(self, reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.gateway)
        except OSError as exc:
            logger.warning("worker gateway forwarder of %s: %s", self.name, exc)
            writer.close()
            return
        await relay(reader, writer, up_reader, up_writer)

    def _remove_stale(self):
        if not os.path.isdir(NETNS_DIR):
            return
        for name in os.listdir(NETNS_DIR):
            pid = name.removeprefix(f"{self.prefix}-")
            if pid != name and pid.isdigit() and not process_alive(int(pid)):
                self._ip_run("netns", "delete", name, check=False)

    def _ip_run(self, *args, check=True):
        result = subprocess.run(
            [self._ip, *args], capture_output=True, text=True, check=False
        )
        if check and result.returncode:
            raise OSError(
                f"ip {' '.join(args)} failed ({result.returncode}): "
                f"{result.stderr.strip()}"
            )


def listen_inside(path, ports):
    """Return listening TCP sockets on LOOPBACK:``ports`` inside namespace ``path``.

    A short-lived thread enters the namespace and makes them: setns(2) moves
    only the calling thread, so the rest of the process stays where it is.
    """
    outcome = {}

    def enter_and_listen():
        try:
            with open(path) as namespace:
                setns(namespace.fileno())
            outcome["sockets"] = [_listener(port) for port in ports]
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=enter_and_listen, name="enter-netns")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["sockets"]


def _listener(port):
    # proto IPPROTO_TCP: asyncio then sets TCP_NODELAY on every accepted socket.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((LOOPBACK, port))
    listener.listen(BACKLOG)
    listener.setblocking(False)
    return listener


def setns(fd):
    """Move the calling thread into the network namespace open at ``fd``; return None."""
    if hasattr(os, "setns"):  # Python 3.12+
        os.setns(fd, os.CLONE_NEWNET)
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")
