"""How a console page joins the Django admin: staff-only, with the admin's context.

Every console view is wrapped by :func:`console_view` and rendered with
:func:`render_console`, so it shares the admin's login, sidebar and header.
"""

from django.contrib import admin
from django.shortcuts import render


def console_view(view):
    """Return ``view`` behind the admin's login (staff only, never cached)."""
    return admin.site.admin_view(view)


def render_console(request, template, context, *, title, status=200):
    """Return the rendered console ``template`` with the admin's own context
    (site header, sidebar, permissions) merged under ``context``."""
    full = {**admin.site.each_context(request), "title": title, **context}
    return render(request, template, full, status=status)
