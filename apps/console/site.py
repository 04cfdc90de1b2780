"""How a console page joins the Django admin: staff-only, with the admin's context,
its permissions, and the partition a URL names.

Every console view is wrapped by :func:`console_view` and rendered with
:func:`render_console`, so it shares the admin's login, sidebar and header. A
page naming something that does not exist answers a styled 404 saying what is
missing, with a link to the nearest page that exists (:class:`NotFound`).
"""

import datetime
import functools

from django.contrib import admin
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from apps.accounts.partition import Partition
from apps.accounts.tenancy import operator_tenant
from apps.api import data
from apps.store.partitions import check_partition

VIEW = "store.view_document"
ADD = "store.add_document"
CHANGE = "store.change_document"
DELETE = "store.delete_document"
PERMISSION_WORDS = {
    VIEW: "view documents",
    ADD: "create documents",
    CHANGE: "change documents",
    DELETE: "delete documents",
}


class NotFound(Http404):
    """A console page names something that does not exist: ``message`` says
    what, and ``back`` is (label, url) of the nearest page that does."""

    def __init__(self, message, back=None):
        super().__init__(message)
        self.message = message
        self.back = back or ("Partitions", reverse("console:extensions"))


def console_view(permission):
    """Return a decorator putting a view behind the admin's login (staff only,
    never cached) and ``permission``: without it, a 403 page naming it."""

    def decorate(view):
        @functools.wraps(view)
        def checked(request, *args, **kwargs):
            if not request.user.has_perm(permission):
                return forbidden(request, permission)
            try:
                return view(request, *args, **kwargs)
            except NotFound as missing:
                return not_found(request, missing)

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


def not_found(request, missing):
    """Return the 404 page saying what is missing and the way back."""
    label, url = missing.back
    context = {"message": missing.message, "back_label": label, "back_url": url}
    return render_console(
        request, "console/not_found.html", context, title="Not found", status=404
    )


def known_extension(app_id):
    """Return ``app_id`` if an extension of that id is loaded or was synced here;
    raise NotFound otherwise."""
    if app_id not in data.known_app_ids():
        raise NotFound(f"No extension {app_id!r} is loaded or synced here.")
    return app_id


def operated_partition(request, app_id, user_id):
    """Return the partition a console URL names, in the operator's tenant.

    Raises NotFound for an extension never loaded or synced here, or ids that
    no partition can have.
    """
    known_extension(app_id)
    try:
        tenant = operator_tenant(request.user)
        return check_partition(Partition(tenant, app_id, user_id))
    except ValueError as exc:
        raise NotFound(str(exc), users_page(app_id)) from None


def users_page(app_id):
    """Return (label, url) of an extension's users list, a way back."""
    return (f"Users of {app_id}", reverse("console:users", args=[app_id]))


def partition_page(part):
    """Return (label, url) of a partition's page, a way back."""
    url = reverse("console:partition", args=[part.app_id, part.user_id])
    return (f"{part.user_id} in {part.app_id}", url)


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
