"""What every admin page of the platform shares: read-only pages, humane values."""

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

EMPTY = "—"


class ReadOnlyAdmin(admin.ModelAdmin):
    """Browsing only: rows written by a core (etags, audit trail, counters) are never
    edited, added or deleted by hand, so their pages show no Save or Delete."""

    # Counting a million rows on every page load costs more than it tells.
    show_full_result_count = False
    list_per_page = 50

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_fields(self, request, obj=None):
        """The model's fields, a duration in ms shown humanised instead."""
        fields = super().get_fields(request, obj)
        return [HUMANISED.get(name, name) for name in fields]

    def get_readonly_fields(self, request, obj=None):
        fields = tuple(super().get_readonly_fields(request, obj))
        if _has_field(self.model, "duration_ms"):
            fields += tuple(HUMANISED.values())
        return fields

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, obj):
        """The row's duration_ms as people read it ("340 ms", "1.2 s")."""
        return human_duration(obj.duration_ms)


# Model fields a read-only page shows through a display method of the same meaning.
HUMANISED = {"duration_ms": "duration"}


def _has_field(model, name):
    return any(field.name == name for field in model._meta.get_fields())


def human_duration(ms):
    """Return a duration in milliseconds as people read it: "340 ms", "1.2 s",
    "2 min 5 s", "1 h 4 min"; "—" for None."""
    if ms is None:
        return EMPTY
    ms = float(ms)
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    seconds = ms / 1000
    if seconds < 59.95:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def html_table(rows, columns):
    """Return ``rows`` (dicts) as an HTML table; ``columns`` is [(key, heading)].

    Values are escaped; a missing key shows "—". An empty list shows "—".
    """
    if not rows:
        return EMPTY
    head = format_html_join("", "<th>{}</th>", ((h,) for _, h in columns))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        (
            (
                format_html_join(
                    "", "<td>{}</td>", ((_cell(r.get(k)),) for k, _ in columns)
                ),
            )
            for r in rows
        ),
    )
    return format_html(
        '<table class="imperal-table"><thead><tr>{}</tr></thead>'
        "<tbody>{}</tbody></table>",
        head,
        body,
    )


def _cell(value):
    if value is None or value == "" or value == []:
        return EMPTY
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


def params_summary(schema):
    """Return a JSON schema's parameters as "name: type" words, "*" marking required."""
    properties = (schema or {}).get("properties") or {}
    required = set((schema or {}).get("required") or ())
    words = []
    for name, spec in properties.items():
        kind = spec.get("type") or spec.get("$ref", "").rsplit("/", 1)[-1] or "any"
        words.append(f"{name}{'*' if name in required else ''}: {kind}")
    return ", ".join(words) or EMPTY


def link(url, text):
    """Return an escaped HTML link."""
    return format_html('<a href="{}">{}</a>', url, text)


def cron_in_words(cron):
    """Return a 5-field UTC cron expression in words ("At 08:00 UTC"), or the
    expression itself when it cannot be described."""
    # Imported on first use: it takes ~40 ms to import, and only the pages that
    # list schedules describe a cron.
    from cron_descriptor import FormatException, Options, get_description

    options = Options()
    options.use_24hour_time_format = True
    options.verbose = False
    try:
        return f"{get_description(cron, options)} UTC"
    except (FormatException, ValueError, KeyError, IndexError, TypeError):
        return cron


class IssueOnlyAdmin(admin.ModelAdmin):
    """Rows holding a secret's hash: "add" issues one (the raw secret is shown once,
    in a message), nothing is ever edited. Subclasses set ``issue_form`` (its
    cleaned data goes to :meth:`issue`), ``issue_fields`` and ``fields``."""

    issue_form = None
    issue_fields = ()

    def issue(self, request, data):
        """Issue the secret; return (saved row, message naming the raw secret)."""
        raise NotImplementedError

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = self.issue_form
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return self.fields if obj else self.issue_fields

    def get_readonly_fields(self, request, obj=None):
        return self.fields if obj else ()

    def has_change_permission(self, request, obj=None):
        return False

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Revoke, don't delete: the row is the record of what the secret did. The
        # delete permission stays, so deleting its owner may cascade to it.
        extra = {**(extra_context or {}), "show_delete": False}
        return super().change_view(request, object_id, form_url, extra)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        row, message = self.issue(request, form.cleaned_data)
        for field in type(row)._meta.concrete_fields:  # what the admin logs and links
            setattr(obj, field.attname, getattr(row, field.attname))
        self.message_user(request, message, messages.WARNING)
