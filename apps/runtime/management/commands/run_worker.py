"""manage.py run_worker APP — one isolated extension's workers, or what a remote one needs."""

import json

from django.conf import settings
from django.core.management.base import CommandError

from apps.extensions.registry import get_registry
from apps.runtime.credentials import runtime_token
from apps.runtime.spawn import remote_environment

from .run_workers import Command as RunWorkers
from .run_workers import isolated_extensions, watched


class Command(RunWorkers):
    help = (
        "Run and supervise the workers of one isolated extension; with --print-env, "
        "print the environment a worker on another host needs "
        "(python -m apps.runtime.worker) and exit."
    )

    def add_arguments(self, parser):
        parser.add_argument("app_id")
        parser.add_argument("--print-env", action="store_true")
        super().add_arguments(parser)

    def handle(
        self,
        *args,
        app_id,
        print_env=False,
        size=None,
        gateway=None,
        **options,
    ):
        if get_registry().get(app_id) is None:
            raise CommandError(f"unknown extension {app_id!r}", returncode=2)
        extensions = isolated_extensions(only=app_id)
        if not extensions:
            raise CommandError(
                f"extension {app_id!r} runs in-process (IMPERAL_EXTENSION_RUNTIME); "
                "it has no workers",
                returncode=2,
            )
        if print_env:
            self.stdout.write(
                json.dumps(self._remote_env(app_id, extensions[0][1], gateway))
            )
            return
        self.supervise(extensions, size, gateway, watched(options))

    def _remote_env(self, app_id, entry, gateway):
        return remote_environment(
            app_id,
            {
                "APP": app_id,
                "ENTRY": entry,
                "GATEWAY": gateway
                or settings.IMPERAL_RUNTIME["GATEWAY_URL"]
                or settings.PUBLIC_URL,
                "TOKEN": runtime_token(app_id),
                "ID": f"remote-{app_id}-1",
                "CONCURRENCY": settings.IMPERAL_RUNTIME["CONCURRENCY"],
            },
        )
