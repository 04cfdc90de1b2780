"""A hostile stand-in for an isolated extension's worker: it tries everything.

Run by the sandbox tests as ``python child.py SPEC`` inside a sandbox, with
this directory as the extension's. SPEC (JSON) names what to try: ``checks``,
each a function below, and their targets. Prints one JSON object: check name
-> {"ok": whether the attempt got through, "detail": what happened}.
Standard library only (plus httpx where a real client is the point): the
child cannot count on anything else being importable.
"""

import importlib
import json
import os
import socket
import sys
import urllib.request


def attempt(action):
    try:
        return {"ok": True, "detail": repr(action())[:500]}
    except BaseException as exc:  # every failure is an answer here
        return {"ok": False, "detail": f"{type(exc).__name__}: {exc}"[:500]}


def check_import_apps(spec):
    return importlib.import_module("apps.store")


def check_import_worker_package(spec):
    return importlib.import_module(spec["worker_package"]).__file__


def check_import_runtime_sandbox(spec):
    return importlib.import_module("apps.runtime.sandbox")


def check_import_settings(spec):
    return importlib.import_module("imperal_platform.settings")


def check_checkout_on_sys_path(spec):
    checkout = os.path.realpath(spec["checkout"])
    if any(os.path.realpath(entry or os.getcwd()) == checkout for entry in sys.path):
        return "on sys.path"
    raise LookupError(f"{checkout} is not on sys.path: {sys.path}")


def check_import_apps_from_checkout(spec):
    sys.path.insert(0, spec["checkout"])
    for name in [n for n in sys.modules if n == "apps" or n.startswith("apps.")]:
        del sys.modules[name]
    return importlib.import_module("apps.store.core")


def check_read_settings_file(spec):
    with open(os.path.join(spec["checkout"], "imperal_platform", "settings.py")) as f:
        return f.read(100)


def check_environ(spec):
    with open("/proc/self/environ", "rb") as f:
        names = [item.split(b"=", 1)[0].decode() for item in f.read().split(b"\0")]
    return sorted(name for name in names if name)


def check_platform_environ(spec):
    with open(f"/proc/{spec['platform_pid']}/environ", "rb") as f:
        return f.read(200)


def check_platform_cmdline(spec):
    with open(f"/proc/{spec['platform_pid']}/cmdline", "rb") as f:
        return f.read(200)


def check_visible_processes(spec):
    own = os.getpid()
    visible = sorted(int(entry) for entry in os.listdir("/proc") if entry.isdigit())
    return {"own": own, "visible": visible}


def check_signal_platform(spec):
    os.kill(spec["platform_pid"], 0)
    return "signalled"


def check_read_var_file(spec):
    with open(spec["var_file"]) as f:
        return f.read(100)


def check_list_var_dir(spec):
    return os.listdir(os.path.dirname(spec["var_file"]))


def check_write_extension_dir(spec):
    with open("written-by-worker.txt", "w") as f:
        f.write("x")
    return "written"


def _connect(address):
    with socket.create_connection(address, timeout=3):
        return f"connected to {address}"


def check_postgres_tcp(spec):
    return _connect(("127.0.0.1", 5432))


def check_redis_tcp(spec):
    return _connect(("127.0.0.1", 6379))


def check_postgres_socket(spec):
    with socket.socket(socket.AF_UNIX) as unix:
        unix.connect(spec["postgres_socket"])
        return "connected"


def check_loopback_direct(spec):
    return _connect(("127.0.0.1", spec["upstream_port"]))


def check_outside_direct(spec):
    return _connect(("192.0.2.1", 80))  # TEST-NET-1: never routed anywhere real


def check_gateway(spec):
    url = os.environ["IMPERAL_WORKER_GATEWAY"] + "/json"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def check_gateway_httpx(spec):
    import httpx  # imperal-sdk's clients: httpx, proxies from the environment

    response = httpx.get(os.environ["IMPERAL_WORKER_GATEWAY"] + "/json", timeout=5)
    response.raise_for_status()
    return response.json()


def check_egress_allowed(spec):
    import httpx  # the client extensions use, with the proxy from the environment

    response = httpx.get(f"http://127.0.0.1:{spec['upstream_port']}/json", timeout=5)
    response.raise_for_status()
    return response.json()


def _tunnel(target, request=None):
    proxy = os.environ["HTTPS_PROXY"].removeprefix("http://")
    host, port = proxy.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
        answer = conn.recv(4096).decode("latin-1")
        if not answer.startswith("HTTP/1.1 200"):
            raise PermissionError(answer)
        if request:
            conn.sendall(request)
            return conn.recv(4096).decode("latin-1").split("\r\n", 1)[0]
        return answer.split("\r\n", 1)[0]


def check_tunnel_allowed(spec):
    target = f"127.0.0.1:{spec['upstream_port']}"
    request = f"GET /json HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n"
    return _tunnel(target, request.encode())


def check_tunnel_to_postgres(spec):
    return _tunnel("127.0.0.1:5432")


def check_tunnel_to_metadata(spec):
    return _tunnel("169.254.169.254:80")


def main():
    spec = json.loads(sys.argv[1])
    results = {
        name: attempt(lambda n=name: globals()[f"check_{n}"](spec))
        for name in spec["checks"]
    }
    print(json.dumps(results))


if __name__ == "__main__":
    main()
