"""Request and response shapes of the API: what the views validate and the schema shows."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

BATCH_MAX_CALLS = 20
PARAMS_HELP = "The handler's params, validated against its signature before it runs."


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
    cron = serializers.CharField()


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


class MyDataSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    tenant_id = serializers.CharField()
    extensions = PartitionSummarySerializer(many=True)


class ExportedDocumentSerializer(serializers.Serializer):
    app_id = serializers.CharField()
    collection = serializers.CharField()
    id = serializers.CharField()
    data = serializers.DictField()
    created_at = serializers.CharField()
    updated_at = serializers.CharField()
    etag = serializers.CharField()


class ExportSerializer(serializers.Serializer):
    tenant_id = serializers.CharField()
    user_id = serializers.CharField()
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
    db_rows = serializers.CharField(
        help_text="ctx.db rows belong to the extension, which must erase them."
    )


# --- notifications ------------------------------------------------------------------


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    app_id = serializers.CharField()
    message = serializers.CharField()
    priority = serializers.CharField()
    channel = serializers.CharField()
    subject = serializers.CharField(allow_blank=True)
    body = serializers.CharField(allow_blank=True)
    status = serializers.CharField()
    created_at = serializers.DateTimeField()
    read_at = serializers.DateTimeField(allow_null=True)


class NotificationPageSerializer(serializers.Serializer):
    data = NotificationSerializer(many=True)
    cursor = serializers.CharField(allow_null=True)
    has_more = serializers.BooleanField()


class MarkedReadSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text="Notifications that were unread.")


# --- operators -------------------------------------------------------------------------


class UserPartitionSerializer(serializers.Serializer):
    user_id = serializers.CharField()
    documents = serializers.IntegerField()
    last_write = serializers.CharField(help_text="Latest document write (ISO 8601).")


class UsersPageSerializer(serializers.Serializer):
    data = UserPartitionSerializer(many=True)
    cursor = serializers.CharField(allow_null=True)
    has_more = serializers.BooleanField()


class DocumentSerializer(serializers.Serializer):
    id = serializers.CharField()
    collection = serializers.CharField()
    data = serializers.DictField()
    created_at = serializers.CharField()
    updated_at = serializers.CharField()
    etag = serializers.CharField()


class DocumentPageSerializer(serializers.Serializer):
    data = DocumentSerializer(many=True)
    cursor = serializers.CharField(allow_null=True)
    has_more = serializers.BooleanField()


class ScheduleRunSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    app_id = serializers.CharField()
    schedule = serializers.CharField()
    slot = serializers.CharField()
    trigger = serializers.CharField()
    status = serializers.CharField()
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    duration_ms = serializers.FloatField(allow_null=True)
    users_fanned_out = serializers.IntegerField()
    progress_percent = serializers.FloatField(allow_null=True)
    progress_message = serializers.CharField(allow_blank=True)
    result = AnyJSON(allow_null=True)
    error = serializers.CharField(allow_blank=True)


class ScheduleWithRunsSerializer(serializers.Serializer):
    app_id = serializers.CharField()
    name = serializers.CharField()
    cron = serializers.CharField()
    enabled = serializers.BooleanField()
    present = serializers.BooleanField()
    runs = ScheduleRunSerializer(many=True, help_text="The latest runs, newest first.")


class ScheduleListSerializer(serializers.Serializer):
    schedules = ScheduleWithRunsSerializer(many=True)


class RunPageSerializer(serializers.Serializer):
    data = ScheduleRunSerializer(many=True)
    cursor = serializers.CharField(allow_null=True)
    has_more = serializers.BooleanField()


class SecurityEventSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    last_seen_at = serializers.DateTimeField(allow_null=True)
    kind = serializers.CharField()
    tenant_id = serializers.CharField()
    app_id = serializers.CharField()
    user_id = serializers.CharField()
    count = serializers.IntegerField()
    detail = serializers.DictField()


class SecurityEventPageSerializer(serializers.Serializer):
    data = SecurityEventSerializer(many=True)
    cursor = serializers.CharField(allow_null=True)
    has_more = serializers.BooleanField()


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


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    checks = serializers.DictField(
        child=serializers.CharField(), help_text="database, cache, broker: ok"
    )
    extensions = serializers.DictField(
        child=serializers.DictField(),
        help_text="Each extension's last health_check: status, checked_at, error, "
        "duration_ms (informational: it does not make /healthz fail)",
    )
