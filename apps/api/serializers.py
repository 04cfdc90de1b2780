"""Request and response shapes of the API: what the views validate and the schema shows."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.accounts.models import SecurityEvent
from apps.extensions.models import ExtensionHealth
from apps.notifications.models import Notification
from apps.scheduler.models import ScheduleRun
from apps.secrets.plaintext import as_secret

from .health import DOWN, UP

BATCH_MAX_CALLS = 20
PARAMS_HELP = "The handler's params, validated against its signature before it runs."
CRON_HELP = "Five-field cron expression, in UTC."


@extend_schema_field(OpenApiTypes.ANY)
class AnyJSON(serializers.JSONField):
    """Any JSON value (a handler's result, a document's data)."""


class Text(serializers.CharField):
    """A JSON string: unlike DRF's CharField, a number is refused, not converted."""

    default_error_messages = {"not_a_string": "Must be a string, not {kind}."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string", kind=type(data).__name__)
        return super().to_internal_value(data)


class PageSerializer(serializers.Serializer):
    """A keyset page: ``data`` (set by `page_of`), and the cursor of the next page."""

    cursor = serializers.CharField(
        allow_null=True, help_text="Pass back as ?cursor= for the next page."
    )
    has_more = serializers.BooleanField()


def model_shape(model, fields):
    """Return ``<Model>Serializer``, a ModelSerializer of the space-separated fields."""
    meta = type("Meta", (), {"model": model, "fields": fields.split()})
    attrs = {"Meta": meta, "__module__": __name__}
    return type(f"{model.__name__}Serializer", (serializers.ModelSerializer,), attrs)


def page_of(item, name):
    """Return the serializer class ``<name>Serializer`` of a keyset page of items."""
    fields = {"data": item(many=True), "__module__": __name__}
    return type(f"{name}Serializer", (PageSerializer,), fields)


# --- errors -------------------------------------------------------------------


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A code of the platform's error table.")
    message = serializers.CharField()
    detail = serializers.DictField(
        help_text="What the error carries for the caller (fields, error_id, …)."
    )


class ErrorSerializer(serializers.Serializer):
    """The one error shape: ``{"error": {"code", "message", "detail"}}``."""

    error = ErrorDetailSerializer()


# --- extensions ------------------------------------------------------------------


class ToolSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    scopes = serializers.ListField(child=serializers.CharField())
    params = serializers.DictField(help_text="JSON Schema of the tool's params.")


class PanelSerializer(serializers.Serializer):
    panel_id = serializers.CharField()
    slot = serializers.CharField(allow_blank=True)
    title = serializers.CharField(allow_blank=True)
    params = serializers.DictField(help_text="JSON Schema of the panel's params.")


class ScheduleSerializer(serializers.Serializer):
    name = serializers.CharField()
    cron = serializers.CharField(help_text=CRON_HELP)


class ExtensionSerializer(serializers.Serializer):
    app_id = serializers.CharField()
    display_name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    version = serializers.CharField(allow_blank=True)
    tools = ToolSerializer(many=True)
    panels = PanelSerializer(many=True)
    schedules = ScheduleSerializer(many=True)


class ExtensionListSerializer(serializers.Serializer):
    extensions = ExtensionSerializer(many=True)


class HandlerCallSerializer(serializers.Serializer):
    params = serializers.DictField(required=False, default=dict, help_text=PARAMS_HELP)


class HandlerResultSerializer(serializers.Serializer):
    result = AnyJSON(help_text="What the handler returned, as JSON (as `ext call`).")


# --- documents ---------------------------------------------------------------------


class DocumentSerializer(serializers.Serializer):
    id = serializers.CharField()
    collection = serializers.CharField()
    data = serializers.DictField()
    created_at = serializers.CharField()
    updated_at = serializers.CharField()
    etag = serializers.CharField()


class ExportedDocumentSerializer(DocumentSerializer):
    app_id = serializers.CharField()


# --- my data -------------------------------------------------------------------------


class CollectionCountSerializer(serializers.Serializer):
    name = serializers.CharField()
    documents = serializers.IntegerField()


class PartitionSummarySerializer(serializers.Serializer):
    app_id = serializers.CharField()
    documents = serializers.IntegerField()
    collections = CollectionCountSerializer(many=True)
    collections_truncated = serializers.BooleanField()
    cache_entries = serializers.IntegerField()
    cache_entries_truncated = serializers.BooleanField(
        help_text="True when there are more cache entries than were counted."
    )
    secrets_set = serializers.IntegerField(help_text="Your secrets with a value.")
    files = serializers.IntegerField(help_text="Your files (ctx.storage).")
    file_bytes = serializers.IntegerField(help_text="Their size in bytes.")


class MyDataSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    tenant_id = serializers.CharField()
    extensions = PartitionSummarySerializer(many=True)


class KindUsageSerializer(serializers.Serializer):
    used = serializers.IntegerField(
        allow_null=True,
        help_text="What is held now (counted=held) or used this UTC day "
        "(counted=today); null when it cannot be counted (the cache is down).",
    )
    counted = serializers.ChoiceField(["held", "today"])
    limit = serializers.IntegerField(
        allow_null=True, help_text="The limit that applies to you; null for none."
    )
    limit_per = serializers.ChoiceField(
        ["", "day", "minute"], help_text="The limit's window; empty for what is held."
    )


class ExtensionUsageSerializer(serializers.Serializer):
    app_id = serializers.CharField()
    usage = serializers.DictField(
        child=KindUsageSerializer(),
        help_text="Per quota kind: store.documents, store.bytes, cache.entries, "
        "files.bytes, ai.tokens, egress.calls.",
    )


class MyUsageSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    tenant_id = serializers.CharField()
    day = serializers.CharField(help_text="The UTC day the daily figures count.")
    extensions = ExtensionUsageSerializer(many=True)


class SecretNameSerializer(serializers.Serializer):
    app_id = serializers.CharField()
    name = serializers.CharField()
    is_set = serializers.BooleanField()
    updated_at = serializers.DateTimeField(allow_null=True)


class ExportedFileSerializer(serializers.Serializer):
    app_id = serializers.CharField()
    path = serializers.CharField()
    size = serializers.IntegerField()
    content_type = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    download = serializers.CharField(
        help_text="The API path that downloads its bytes (GET, your credential)."
    )


class ExportSerializer(serializers.Serializer):
    tenant_id = serializers.CharField()
    user_id = serializers.CharField()
    secrets = SecretNameSerializer(
        many=True, help_text="Your secrets' names and whether each is set; no value."
    )
    files = ExportedFileSerializer(
        many=True, help_text="Your files (ctx.storage), each with its download path."
    )
    documents = ExportedDocumentSerializer(many=True)
    count = serializers.IntegerField(help_text="How many documents were exported.")


class ErasedSerializer(serializers.Serializer):
    app_id = serializers.CharField()
    user_id = serializers.CharField()
    documents_deleted = serializers.IntegerField()
    cache_entries_deleted = serializers.IntegerField()
    cache_erase_complete = serializers.BooleanField(
        help_text="False when the cache backend was unavailable: retry the erase."
    )
    secrets_deleted = serializers.IntegerField()
    files_deleted = serializers.IntegerField()
    db_rows = serializers.CharField(
        help_text="ctx.db rows belong to the extension, which must erase them."
    )


# --- my secrets ----------------------------------------------------------------------


class SecretStateSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The name the extension declared.")
    description = serializers.CharField()
    scope = serializers.ChoiceField(
        ["user", "app"],
        help_text="user: your own value; app: shared, set by an operator.",
    )
    write_mode = serializers.ChoiceField(
        ["user", "extension", "both"],
        help_text="Who sets a user secret: you, the extension, or either.",
    )
    required = serializers.BooleanField(
        help_text="The extension's calls are refused until it is set."
    )
    max_bytes = serializers.IntegerField(help_text="Largest value, in UTF-8 bytes.")
    is_set = serializers.BooleanField()
    updated_at = serializers.DateTimeField(
        allow_null=True, help_text="When its value was last set."
    )
    writable = serializers.BooleanField(help_text="Whether you may set it.")


class MySecretsSerializer(serializers.Serializer):
    app_id = serializers.CharField()
    secrets = SecretStateSerializer(many=True)


class SecretValueField(Text):
    """A secret's value: text, held as SecretText (its repr masked) once parsed."""

    def to_internal_value(self, data):
        return as_secret(super().to_internal_value(data))


class SecretValueSerializer(serializers.Serializer):
    value = SecretValueField(
        write_only=True,
        allow_blank=True,
        trim_whitespace=False,
        help_text="The secret, as text; stored sealed and never shown again.",
    )


class SecretDeletedSerializer(serializers.Serializer):
    name = serializers.CharField()
    was_set = serializers.BooleanField()


# --- notifications ------------------------------------------------------------------


NotificationSerializer = model_shape(
    Notification,
    "id app_id message priority channel subject body status created_at read_at",
)


NotificationPageSerializer = page_of(NotificationSerializer, "NotificationPage")


class MarkedReadSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="Notifications that were unread.")


# --- operators -------------------------------------------------------------------------


class UserPartitionSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    documents = serializers.IntegerField()
    last_write = serializers.CharField(help_text="Latest document write (ISO 8601).")


UsersPageSerializer = page_of(UserPartitionSerializer, "UsersPage")


DocumentPageSerializer = page_of(DocumentSerializer, "DocumentPage")


ScheduleRunSerializer = model_shape(
    ScheduleRun,
    "id app_id schedule slot trigger triggered_by status started_at finished_at duration_ms"
    " users_fanned_out progress_percent progress_message result error",
)


class ScheduleWithRunsSerializer(serializers.Serializer):
    app_id = serializers.CharField()
    name = serializers.CharField()
    cron = serializers.CharField(help_text=CRON_HELP)
    enabled = serializers.BooleanField()
    present = serializers.BooleanField()
    runs = ScheduleRunSerializer(many=True, help_text="The latest runs, newest first.")


class ScheduleListSerializer(serializers.Serializer):
    schedules = ScheduleWithRunsSerializer(many=True)


RunPageSerializer = page_of(ScheduleRunSerializer, "RunPage")


SecurityEventSerializer = model_shape(
    SecurityEvent,
    "id created_at last_seen_at kind tenant_id app_id user_id count detail",
)


SecurityEventPageSerializer = page_of(SecurityEventSerializer, "SecurityEventPage")


# --- Imperal's call route -------------------------------------------------------------


class CallRequestSerializer(serializers.Serializer):
    """imperal-sdk's Auth Gateway ``CallRequest``."""

    user_id = Text(max_length=128)
    tenant_id = Text(max_length=64, default="default")
    function = Text(max_length=128, help_text="The function's name.")
    params = serializers.DictField(required=False, default=dict, help_text=PARAMS_HELP)


class BatchCallItemSerializer(serializers.Serializer):
    function = Text(max_length=128)
    params = serializers.DictField(required=False, default=dict)


class BatchCallRequestSerializer(serializers.Serializer):
    """imperal-sdk's Auth Gateway ``BatchCallRequest``."""

    user_id = Text(max_length=128)
    tenant_id = Text(max_length=64, default="default")
    calls = BatchCallItemSerializer(
        many=True,
        allow_empty=False,
        max_length=BATCH_MAX_CALLS,
        help_text=f"1-{BATCH_MAX_CALLS} calls (BATCH_MAX_CALLS), run in order.",
    )


class CallResponseSerializer(serializers.Serializer):
    """imperal-sdk's Auth Gateway ``CallResponse``."""

    status = serializers.CharField(help_text='"success" or "error"')
    data = AnyJSON(allow_null=True)
    summary = serializers.CharField(allow_null=True, allow_blank=True)
    error = serializers.CharField(allow_null=True, allow_blank=True)
    ui = AnyJSON(allow_null=True)


class BatchCallResponseSerializer(serializers.Serializer):
    results = CallResponseSerializer(many=True, help_text="One per call, in order.")


# --- health ----------------------------------------------------------------------------


class ExtensionHealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ExtensionHealth.Status.values)


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    checks = serializers.DictField(
        child=serializers.ChoiceField(choices=[UP, DOWN]),
        help_text="database, cache, broker: ok or down (the reason is in the log)",
    )
    extensions = serializers.DictField(
        child=ExtensionHealthSerializer(),
        help_text="Each extension's last health_check status (informational: it "
        "does not make /healthz fail; the message is in the admin)",
    )
