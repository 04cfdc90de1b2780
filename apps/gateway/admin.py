"""Service tokens in the admin: prefixes only; a new raw token is shown once, in a message."""

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

from apps.accounts.tenancy import TenantScopedAdmin
from apps.common.admin import IssueOnlyAdmin

from . import tokens
from .models import ServiceToken


class IssueTokenForm(forms.ModelForm):
    """What issuing a token asks for; the token itself is generated, never typed."""

    rotate = forms.BooleanField(
        required=False,
        help_text="Retire this identity's other tokens after the rotation grace period.",
    )

    class Meta:
        model = ServiceToken
        fields = ("app_id", "tenant_id", "user_id")

    def clean(self):
        data = super().clean()
        try:
            tokens.check_identity(
                data.get("app_id"), data.get("user_id", ""), data.get("tenant_id")
            )
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return data


@admin.register(ServiceToken)
class ServiceTokenAdmin(TenantScopedAdmin, IssueOnlyAdmin):
    list_display = (
        "display_prefix",
        "app_id",
        "tenant_id",
        "bound_to",
        "state",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    list_filter = ("app_id", "tenant_id", "revoked_at")
    search_fields = ("app_id", "user_id", "display_prefix")
    # token_hash is never shown: a hash of a short-lived secret still identifies it.
    fields = (
        "display_prefix",
        "app_id",
        "tenant_id",
        "user_id",
        "created_at",
        "last_used_at",
        "expires_at",
        "revoked_at",
    )
    issue_form = IssueTokenForm
    issue_fields = ("app_id", "tenant_id", "user_id", "rotate")
    actions = ["issue_replacement", "revoke_now"]

    @admin.display(description="acts for")
    def bound_to(self, token):
        return token.user_id or "any user (extension-wide)"

    @admin.display(description="state")
    def state(self, token):
        return token.status(timezone.now())

    def issue(self, request, data):
        """Issue the token through the one issuing function."""
        issued = tokens.issue_token(
            data["app_id"],
            user_id=data["user_id"],
            tenant_id=data["tenant_id"],
            rotate=data["rotate"],
        )
        return issued.row, _shown_once(issued)

    def add_view(self, request, form_url="", extra_context=None):
        extra = {**(extra_context or {}), "title": "Issue a service token"}
        return super().add_view(request, form_url, extra)

    @admin.action(
        description="Issue a new token for each selected one's identity "
        "(the selected stop working after the rotation grace period)",
        permissions=["add"],
    )
    def issue_replacement(self, request, queryset):
        identities = set(queryset.values_list("app_id", "tenant_id", "user_id"))
        for app_id, tenant_id, user_id in sorted(identities):
            try:
                issued = tokens.issue_token(
                    app_id, user_id=user_id, tenant_id=tenant_id, rotate=True
                )
            except ValueError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            self.message_user(request, _shown_once(issued), messages.WARNING)

    def has_revoke_permission(self, request):
        return request.user.has_perm("gateway.change_servicetoken")

    @admin.action(description="Revoke the selected tokens now", permissions=["revoke"])
    def revoke_now(self, request, queryset):
        count = tokens.revoke(queryset)
        self.message_user(request, f"Revoked {count} token(s).", messages.SUCCESS)


def _shown_once(issued):
    """Return the message showing a new raw token, the one time it is shown."""
    row = issued.row
    retired = ", ".join(f"{r.display_prefix}…" for r in issued.retired)
    return (
        f"New service token for {row.app_id} ({row.user_id or 'extension-wide'}): "
        f"{issued.raw} — copy it now, it is not shown again."
        + (f" Retiring after the grace period: {retired}." if retired else "")
    )
