"""manage.py ext list|call|panel|fire|token — JSON on stdout, one-line errors."""

import json
import sys

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.ids import InvalidUserId
from apps.extensions.errors import InvocationError
from apps.extensions.invocation import prepare_panel, prepare_tool
from apps.extensions.models import Extension as ExtensionRow
from apps.extensions.registry import get_registry
from apps.extensions.sync import describe
from apps.gateway.tokens import issue_token
from apps.scheduler.fire import fire_now
from apps.scheduler.models import ScheduleRun


class Command(BaseCommand):
    help = "Inspect and invoke the loaded Imperal extensions."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        sub.add_parser(
            "list", help="list extensions with their tools, panels and schedules"
        )
        for action, noun in (("call", "tool"), ("panel", "panel")):
            p = sub.add_parser(
                action, help=f"run a {noun} for a user and print its JSON"
            )
            p.add_argument("app_id")
            p.add_argument("name", metavar=noun.upper())
            p.add_argument(
                "--user", required=True, help="imperal_id of the acting user"
            )
            p.add_argument("--params", default="{}", help="JSON object of params")
            p.add_argument("--tenant", default=None)
        p = sub.add_parser("fire", help="run a schedule now in system context")
        p.add_argument("app_id")
        p.add_argument("name", metavar="SCHEDULE")
        p = sub.add_parser(
            "token", help="issue a gateway service token and print it (shown once)"
        )
        p.add_argument("app_id")
        p.add_argument(
            "--user",
            default="",
            help="bind the token to one user id (or __system__); default: "
            "extension-wide",
        )
        p.add_argument("--tenant", default=None, help="default IMPERAL_DEFAULT_TENANT")
        p.add_argument(
            "--rotate",
            action="store_true",
            help="retire this identity's other tokens after "
            "IMPERAL_TOKEN_ROTATION_GRACE seconds",
        )

    def handle(self, *args, action, **options):
        try:
            return getattr(self, f"_{action}")(**options)
        except (InvocationError, InvalidUserId) as exc:
            raise CommandError(str(exc), returncode=2) from None

    def _emit(self, payload):
        self.stdout.write(
            json.dumps(payload, indent=2, ensure_ascii=False, default=str)
        )

    def _list(self, **options):
        registry = get_registry()
        enabled = dict(ExtensionRow.objects.values_list("app_id", "enabled"))
        listing = []
        for loaded in registry:
            entry = {
                "app_id": loaded.app_id,
                "enabled": enabled.get(loaded.app_id, True),
            }
            entry.update(describe(loaded))
            listing.append(entry)
        self._emit({"extensions": listing, "errors": [str(e) for e in registry.errors]})
        if registry.errors:
            raise CommandError(
                "extension entries failed to load: "
                + "; ".join(str(e) for e in registry.errors),
                returncode=1,
            )

    def _call(self, **options):
        self._run(prepare_tool, **options)

    def _panel(self, **options):
        self._run(prepare_panel, **options)

    def _run(self, prepare, app_id, name, user, params, tenant, **options):
        call = prepare(
            app_id,
            name,
            user,
            _json_params(params),
            tenant_id=tenant,
            progress=_print_progress,
        )
        self._emit(async_to_sync(call.run)())

    def _fire(self, app_id, name, **options):
        # The same path as a Celery fire, for a slot of its own (manual:<time>).
        # A sharded schedule's shards run here too: the printed run is final.
        run = fire_now(app_id, name, local=True)
        self._emit(run.as_dict())
        if run.status != ScheduleRun.Status.SUCCESS:
            raise CommandError(f"schedule {app_id}.{name} {run.status}: {run.error}")

    def _token(self, app_id, user, tenant, rotate, **options):
        try:
            issued = issue_token(app_id, user_id=user, tenant_id=tenant, rotate=rotate)
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        self._emit(issued.as_dict())


def _json_params(raw):
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise CommandError(f"--params is not valid JSON: {exc}", returncode=2) from None


async def _print_progress(percent, message=""):
    print(json.dumps({"progress": percent, "message": message}), file=sys.stderr)
