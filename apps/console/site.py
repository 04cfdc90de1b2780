"""How a console page joins the Django admin: staff-only, with the admin's context,
its permissions, and the partition a URL names.

Every console view is wrapped by :func:`console_view` and rendered with
:func:`render_console`, so it shares the admin's login, sidebar and header.
"""

import datetime
import functools

from django.contrib import admin
from django.http import Http404
from django.shortcuts import render

from apps.accounts.partition import Partition
from apps.accounts.tenancy import operator_tenant
from apps.api import data
from apps.store.partitions import check_partition

VIEW = "store.view_document"
CHANGE = "store.change_document"
DELETE = "store.delete_document"
PERMISSION_WORDS = {
    VIEW: "view documents",
    CHANGE: "change documents",
    DELETE: "delete documents",
}


def console_view(permission):
    """Return a decorator putting a view behind the admin's login (staff only,
    never cached) and ``permission``: without it, a 403 page naming it."""

    def decorate(view):
        @functools.wraps(view)
        def checked(request, *args, **kwargs):
            if not request.user.has_perm(permission):
                return forbidden(request, permission)
            return view(request, *args, **kwargs)

        return admin.site.admin_view(checked)

    return decorate


def render_console(request, template, context, *, title, status=200):
    """Return the rendered console ``template`` with the admin's own context
    (site header, sidebar, permissions) merged under ``context``."""
    full = {**admin.site.each_context(request), "title": title, **context}
    return render(request, template, full, status=status)


def render_listing(request, template, context, *, title):
    """Return a page of rows; 400 when ``context["error"]`` says its query (a
    search, filter, order or cursor) was refused and no rows were read."""
    status = 400 if context.get("error") else 200
    return render_console(request, template, context, title=title, status=status)


def forbidden(request, permission):
    """Return the 403 page saying which permission the operator lacks."""
    return render_console(
        request,
        "console/forbidden.html",
        {"permission": permission, "words": PERMISSION_WORDS.get(permission)},
        title="Permission needed",
        status=403,
    )


def operated_partition(request, app_id, user_id):
    """Return the partition a console URL names, in the operator's tenant.

    Raises Http404 for an extension never loaded or synced here, or ids that
    no partition can have.
    """
    if app_id not in data.known_app_ids():
        raise Http404(f"unknown extension {app_id!r}")
    try:
        tenant = operator_tenant(request.user)
        return check_partition(Partition(tenant, app_id, user_id))
    except ValueError as exc:
        raise Http404(str(exc)) from None


def seconds(text):
    """Return an ISO-8601 timestamp as ``YYYY-MM-DD HH:MM:SS UTC`` ("" stays "")."""
    if not text:
        return ""
    moment = (
        text
        if isinstance(text, datetime.datetime)
        else (datetime.datetime.fromisoformat(text))
    )
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def can(request, permission):
    """Return whether the operator holds ``permission``."""
    return request.user.has_perm(permission)
