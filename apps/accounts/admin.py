"""Users, their API tokens, security events and login lockouts, as operators see them.

A user's partition key (imperal_id, tenant_id) is fixed once the user exists;
API tokens are issued (the raw token shown once) and revoked, never edited.
"""

import datetime

from axes.models import AccessAttempt
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.http import urlencode

from apps.common.admin import IssueOnlyAdmin, ReadOnlyAdmin

from .models import ApiToken, SecurityEvent, User
from .tenancy import TenantScopedAdmin, crosses_tenants, operated_users

PARTITION_KEY = ("imperal_id", "tenant_id")
EXPIRY_CHOICES = [
    ("", "never"),
    ("30", "in 30 days"),
    ("90", "in 90 days"),
    ("365", "in a year"),
]


def changelist_url(model_label, **filters):
    """Return the admin changelist URL of ``model_label`` ("app_model") filtered."""
    return f"{reverse(f'admin:{model_label}_changelist')}?{urlencode(filters)}"


@admin.register(User)
class PlatformUserAdmin(TenantScopedAdmin, UserAdmin):
    list_display = ("username", "imperal_id", "email", "tenant_id", "role", "is_staff")
    list_filter = ("tenant_id", "role", "is_staff", "is_active")
    search_fields = ("username", "imperal_id", "email")
    # The identity and the user's data first: what an operator opens the page for.
    fieldsets = (
        UserAdmin.fieldsets[0],
        (
            "Imperal identity",
            {
                "fields": ("imperal_id", "tenant_id", "agency_id", "role", "scopes"),
                "description": "imperal_id and tenant_id are the user's partition "
                "key: fixed once the user exists.",
            },
        ),
        ("This user's data", {"fields": ("data_links",)}),
        *UserAdmin.fieldsets[1:],
    )
    add_fieldsets = UserAdmin.add_fieldsets + (
        ("Imperal identity", {"fields": ("imperal_id", "tenant_id", "role")}),
    )
    actions = ["issue_api_token"]

    def tenant_scope(self, tenant):
        return operated_users(tenant)

    def get_readonly_fields(self, request, obj=None):
        fields = ("data_links",)
        if not crosses_tenants(request.user):
            fields += ("is_superuser",)
        return fields + PARTITION_KEY if obj is not None else fields

    @admin.display(description="documents, notifications, tokens")
    def data_links(self, user):
        """Links to this user's rows in each surface, filtered by their partition."""
        if user.pk is None:
            return "—"
        who = {"user_id": user.imperal_id, "tenant_id": user.tenant_id}
        links = [
            (changelist_url("store_document", **who), "Documents"),
            (changelist_url("notifications_notification", **who), "Notifications"),
            (
                changelist_url("accounts_apitoken", user__id__exact=user.pk),
                "API tokens",
            ),
            (
                changelist_url("gateway_servicetoken", **who),
                "Service tokens bound to it",
            ),
            (
                f"{reverse('admin:accounts_apitoken_add')}?user={user.pk}",
                "Issue an API token",
            ),
        ]
        return format_html_join(" · ", '<a href="{}">{}</a>', links)

    @admin.action(
        description="Issue an API token for each selected user (shown once)",
        permissions=["issue"],
    )
    def issue_api_token(self, request, queryset):
        for user in queryset:
            row, raw = ApiToken.issue(user)
            self.message_user(request, shown_once(row, raw), messages.WARNING)

    def has_issue_permission(self, request):
        return request.user.has_perm("accounts.add_apitoken")


def shown_once(row, raw):
    """Return the message showing a new raw API token, the one time it is shown."""
    return (
        f"New API token for {row.user.imperal_id}: {raw} — copy it now, "
        "it is not shown again."
    )


class IssueApiTokenForm(forms.ModelForm):
    """What issuing an API token asks for: whose, and until when (no date typing)."""

    expires = forms.ChoiceField(choices=EXPIRY_CHOICES, required=False)

    class Meta:
        model = ApiToken
        fields = ("user",)


@admin.register(ApiToken)
class ApiTokenAdmin(TenantScopedAdmin, IssueOnlyAdmin):
    tenant_field = "user__tenant_id"
    list_display = (
        "display_prefix",
        "user",
        "state",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("revoked_at",)
    search_fields = ("user__imperal_id", "display_prefix")
    list_select_related = ("user",)
    fields = (
        "user",
        "display_prefix",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    issue_form = IssueApiTokenForm
    issue_fields = ("user", "expires")
    raw_id_fields = ("user",)
    actions = ["revoke_now"]

    @admin.display(description="state")
    def state(self, token):
        return token.state()

    def issue(self, request, data):
        days = data.get("expires")
        expires_at = (
            timezone.now() + datetime.timedelta(days=int(days)) if days else None
        )
        row, raw = ApiToken.issue(data["user"], expires_at=expires_at)
        return row, shown_once(row, raw)

    def add_view(self, request, form_url="", extra_context=None):
        extra = {**(extra_context or {}), "title": "Issue an API token"}
        return super().add_view(request, form_url, extra)

    def has_revoke_permission(self, request):
        return request.user.has_perm("accounts.change_apitoken")

    @admin.action(description="Revoke the selected tokens now", permissions=["revoke"])
    def revoke_now(self, request, queryset):
        # Conditional: a token revoked earlier keeps its first revocation time.
        count = queryset.filter(revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)


@admin.register(SecurityEvent)
class SecurityEventAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    list_display = ("created_at", "last_seen_at", "kind", "count", "app_id")
    list_display += ("tenant_id", "user_id")
    list_filter = ("kind", "app_id", "tenant_id")
    search_fields = ("user_id", "app_id")
    date_hierarchy = "created_at"
    fields = (
        "created_at",
        "last_seen_at",
        "kind",
        "count",
        "tenant_id",
        "app_id",
        "user_id",
        "detail",
    )


@admin.register(AccessAttempt)
class LoginLockoutAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    """The login throttle's counts (django-axes): deleting a row lifts its pause."""

    list_display = ("attempt_time", "username", "ip_address", "failures_since_start")
    list_display += ("paused",)
    search_fields = ("=username", "=ip_address")
    fields = ("username", "ip_address", "user_agent", "failures_since_start")
    fields += ("attempt_time", "path_info")
    actions = ["lift"]

    def tenant_scope(self, tenant):
        # Counts of usernames no user has are the outside world's: superusers only.
        users = User.objects.filter(operated_users(tenant))
        return Q(username__in=users.values(User.USERNAME_FIELD))

    @admin.display(boolean=True, description="paused")
    def paused(self, attempt):
        return attempt.failures_since_start >= settings.AXES_FAILURE_LIMIT

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm("axes.delete_accessattempt")

    @admin.action(description="Lift the selected pauses now", permissions=["delete"])
    def lift(self, request, queryset):
        count, _ = queryset.delete()
        self.message_user(request, f"Lifted {count} pause(s).", messages.SUCCESS)
