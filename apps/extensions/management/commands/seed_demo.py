"""manage.py seed_demo — demo operator, users and data; idempotent."""

import secrets

from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.management.base import BaseCommand

from apps.accounts.models import User
from apps.extensions.errors import InvocationError
from apps.extensions.invocation import prepare_tool
from apps.notifications.models import Notification

DEMO_USERS = ("alice", "bob", "charlie")
DEMO_CALLS = [
    ("contacts", "add_contact", {"name": "Ada Lovelace", "email": "ada@example.com"}),
    ("contacts", "add_contact", {"name": "Alan Turing", "email": "alan@example.com"}),
    ("my-app", "save_contact", {"email": "grace@example.com", "name": "Grace Hopper"}),
    ("my-app", "notify_me", {"message": "Welcome to imperal-platform."}),
    # ctx.db: rows for the seed's fetch_spend_report (2026-05).
    (
        "my-app",
        "record_spend",
        {"campaign_id": "search", "year": 2026, "month": 5, "spend": 120.5},
    ),
    (
        "my-app",
        "record_spend",
        {"campaign_id": "social", "year": 2026, "month": 5, "spend": 80},
    ),
]


class Command(BaseCommand):
    help = "Create the demo operator, demo users and their data (safe to run again)."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000")

    def handle(self, *args, url, **options):
        password = self._operator_password()
        operator, _ = User.objects.get_or_create(
            imperal_id="admin", defaults={"username": "admin", "role": "operator"}
        )
        operator.is_staff = operator.is_superuser = True
        operator.set_password(password)
        operator.save()
        for uid in DEMO_USERS:
            User.objects.get_or_create(
                imperal_id=uid,
                defaults={"username": uid, "email": f"{uid}@example.com"},
            )
        if not Notification.objects.filter(user_id="alice").exists():
            self._demo_data()
        self.stdout.write(f"admin:  {url}/admin/\nlogin:  admin / {password}")

    def _operator_password(self):
        path = settings.VAR_DIR / "demo_operator_password"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(12))
            path.chmod(0o600)
        return path.read_text().strip()

    def _demo_data(self):
        for uid in DEMO_USERS[:2]:
            for app_id, tool, params in DEMO_CALLS:
                try:
                    async_to_sync(prepare_tool(app_id, tool, uid, params).run)()
                except InvocationError as exc:
                    self.stderr.write(
                        f"demo data: skipped {app_id}.{tool} for {uid}: {exc}"
                    )
