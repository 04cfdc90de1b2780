"""The admin login's throttle (django-axes): the page a locked-out sign-in gets.

The policy lives in settings (``AXES_*``, from ``IMPERAL_LOGIN_*``): failures
are counted per username *and* client address, a lockout lasts the cool-off
from the last counted failure (attempts during it neither count nor extend it),
and a successful sign-in clears the count.
"""

import math

from django.conf import settings
from django.contrib import admin
from django.shortcuts import render

TEMPLATE = "accounts/login_locked.html"


def lockout_response(request, original_response=None, credentials=None):
    """Return the 429 page of a refused sign-in, with ``Retry-After``."""
    seconds = cool_off_seconds()
    context = {
        **admin.site.each_context(request),
        "title": "Sign-in paused",
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": math.ceil(seconds / 60),
    }
    response = render(request, TEMPLATE, context, status=429)
    response["Retry-After"] = str(seconds)
    return response


def cool_off_seconds():
    """Return the configured cool-off (AXES_COOLOFF_TIME) in whole seconds."""
    return math.ceil(settings.AXES_COOLOFF_TIME.total_seconds())
