"""Template helpers of the console's operations pages and the admin index."""

from django import template

from apps.common.admin import human_duration as _human_duration

from .. import dashboard as _dashboard

register = template.Library()


@register.inclusion_tag("console/ops/dashboard.html", takes_context=True)
def dashboard(context):
    """Render the dashboard's sections the signed-in operator may see."""
    return {"sections": _dashboard.build(context["request"])}


@register.filter
def human_duration(ms):
    """Return a duration in milliseconds as people read it ("340 ms", "1.2 s")."""
    return _human_duration(ms)
