"""manage.py user_token UID — issue (or list, or revoke) a user's API tokens, as JSON."""

import datetime
import json

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.accounts.ids import InvalidUserId, check_user_id
from apps.accounts.models import PRIVILEGED_IDS, ApiToken, User
from apps.common.timestamps import rfc3339

EXPIRES_IN_MAX_DAYS = 3650
PREFIX_MIN_CHARS = 8  # "imp_u_" plus two characters: enough to name one token


class Command(BaseCommand):
    help = (
        "Create the user UID if needed and print a new API token for it (JSON); "
        "--list shows its tokens, --revoke PREFIX revokes one."
    )

    def add_arguments(self, parser):
        parser.add_argument("uid", help="imperal_id of the user")
        parser.add_argument("--tenant", default=settings.IMPERAL_DEFAULT_TENANT)
        parser.add_argument(
            "--email", default="", help="email for a newly created user"
        )
        parser.add_argument(
            "--expires-in",
            type=int,
            default=None,
            metavar="DAYS",
            help=f"the new token stops working after DAYS days (1-{EXPIRES_IN_MAX_DAYS}); "
            "default: never",
        )
        action = parser.add_mutually_exclusive_group()
        action.add_argument(
            "--list",
            action="store_true",
            dest="list_tokens",
            help="list the user's tokens (no secrets)",
        )
        action.add_argument(
            "--revoke",
            default=None,
            metavar="PREFIX",
            help="revoke the user's token whose display prefix starts with PREFIX",
        )

    def handle(
        self, *args, uid, tenant, email, expires_in, list_tokens, revoke, **options
    ):
        uid = _checked_uid(uid)
        if list_tokens:
            return self._emit({"user": uid, "tokens": _listing(uid)})
        if revoke is not None:
            return self._emit({"user": uid, "revoked": _revoke(uid, revoke)})
        expires_at = _expiry(expires_in)
        user, created = User.objects.get_or_create(
            imperal_id=uid,
            defaults={"username": uid, "tenant_id": tenant, "email": email},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
        row, raw = ApiToken.issue(user, expires_at=expires_at)
        self._emit(
            {
                "user": uid,
                "created": created,
                "token": raw,
                "prefix": row.display_prefix,
                "expires_at": _iso(row.expires_at),
            }
        )

    def _emit(self, payload):
        self.stdout.write(json.dumps(payload))


def _checked_uid(uid):
    uid = uid.strip()
    if uid in PRIVILEGED_IDS:
        raise CommandError(
            f"uid {uid!r} is reserved for a platform identity "
            f"(reserved: {sorted(PRIVILEGED_IDS)})"
        )
    try:
        return check_user_id(uid, "uid")
    except InvalidUserId as exc:
        raise CommandError(str(exc)) from None


def _expiry(days):
    if days is None:
        return None
    if not 1 <= days <= EXPIRES_IN_MAX_DAYS:
        raise CommandError(
            f"--expires-in must be 1-{EXPIRES_IN_MAX_DAYS} days, got {days}"
        )
    return timezone.now() + datetime.timedelta(days=days)


def _listing(uid):
    now = timezone.now()
    tokens = ApiToken.objects.filter(user__imperal_id=uid).order_by("created_at", "id")
    return [
        {
            "prefix": t.display_prefix,
            "state": t.state(now),
            "created_at": _iso(t.created_at),
            "last_used_at": _iso(t.last_used_at),
            "expires_at": _iso(t.expires_at),
            "revoked_at": _iso(t.revoked_at),
        }
        for t in tokens
    ]


def _revoke(uid, prefix):
    """Revoke the one unrevoked token of ``uid`` matching ``prefix``; return its prefix."""
    if len(prefix) < PREFIX_MIN_CHARS:
        raise CommandError(
            f"--revoke needs at least {PREFIX_MIN_CHARS} characters of the prefix "
            f"(as --list shows it), got {prefix!r:.40}"
        )
    matching = ApiToken.objects.filter(
        user__imperal_id=uid, revoked_at__isnull=True
    ).with_prefix(prefix)
    found = list(matching.values_list("pk", "display_prefix")[:2])
    if not found:
        raise CommandError(
            f"user {uid!r} has no unrevoked token starting {prefix!r:.40}"
        )
    if len(found) > 1:
        raise CommandError(
            f"prefix {prefix!r:.40} names more than one token of {uid!r}; give more "
            "characters"
        )
    pk, display = found[0]
    # Conditional: a token revoked meanwhile keeps its first revocation time.
    ApiToken.objects.filter(pk=pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    return display


def _iso(moment):
    return rfc3339(moment) if moment is not None else None
