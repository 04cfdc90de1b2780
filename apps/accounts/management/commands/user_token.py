"""manage.py user_token UID — create the user if needed and print a new API token."""

import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.accounts.models import SYSTEM_ID, ApiToken, User


class Command(BaseCommand):
    help = "Create the user UID if needed and print a new API token for it (JSON)."

    def add_arguments(self, parser):
        parser.add_argument("uid", help="imperal_id of the user")
        parser.add_argument("--tenant", default=settings.IMPERAL_DEFAULT_TENANT)
        parser.add_argument(
            "--email", default="", help="email for a newly created user"
        )

    def handle(self, *args, uid, tenant, email, **options):
        uid = uid.strip()
        if not uid or uid == SYSTEM_ID:
            raise CommandError(
                f"uid must be non-empty and not {SYSTEM_ID!r}, got {uid!r}"
            )
        user, created = User.objects.get_or_create(
            imperal_id=uid,
            defaults={"username": uid, "tenant_id": tenant, "email": email},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        _, raw = ApiToken.issue(user)
        self.stdout.write(json.dumps({"user": uid, "created": created, "token": raw}))
