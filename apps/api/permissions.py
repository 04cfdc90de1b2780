"""Who may use a route: a signed-in user, or an operator with the route's permissions.

Nothing is allowed by default (``apps.common.http.DenyAll``); every view
names one of these. An anonymous request is 401, a user without the right is
403, and the message says what was missing.
"""

from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission

ACT_FOR_USERS = "accounts.act_for_users"
CREDENTIALS_HINT = (
    "send Authorization: Token <token> (manage.py user_token UID) or sign in "
    "at /admin/login/"
)


def _require_user(request):
    user = request.user
    if user is None or not user.is_authenticated:
        raise NotAuthenticated(f"authentication required: {CREDENTIALS_HINT}")
    return user


class IsPlatformUser(BasePermission):
    """Any active user the API's credentials authenticated."""

    def has_permission(self, request, view):
        _require_user(request)
        return True


class IsOperator(BasePermission):
    """A staff user holding every model permission the route needs.

    ``view.required_permissions`` is a tuple, or a dict of tuples by HTTP
    method; a method it does not name is refused.
    """

    def has_permission(self, request, view):
        user = _require_user(request)
        if not user.is_staff:
            raise PermissionDenied("operator routes are for staff users only")
        needed = view.required_permissions
        if isinstance(needed, dict):
            method = "GET" if request.method == "HEAD" else request.method
            if not hasattr(view, method.lower()):
                return True  # no such handler: DRF answers 405
            if method not in needed:
                raise PermissionDenied(f"{method} names no permission here")
            needed = needed[method]
        missing = [p for p in needed if not user.has_perm(p)]
        if missing:
            raise PermissionDenied(
                f"this route needs the permission(s) {', '.join(missing)}"
            )
        return True


def may_act_for_users(user):
    """Return whether ``user`` may call extensions as another user (a staff user
    or service identity with accounts.act_for_users)."""
    return bool(user.is_staff and user.has_perm(ACT_FOR_USERS))
