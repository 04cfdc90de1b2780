"""The secrets vault in the admin: operators set app secrets write-only, browse the rest.

Here, above the kernel, because setting an app secret needs the loaded
extensions' declarations (its scope, max_bytes). No page ever shows a value or
its ciphertext: the value field is a password input that is never filled in,
and every write goes through the vault's core (:mod:`apps.secrets.core`).
"""

from django import forms
from django.contrib import admin
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from imperal_sdk.secrets import SecretSpec, SecretWriteForbidden

from apps.accounts.partition import Partition
from apps.accounts.tenancy import TenantScopedAdmin
from apps.common.admin import ReadOnlyAdmin
from apps.extensions.errors import InvocationError
from apps.extensions.registry import get_registry, secret_specs
from apps.secrets.core import Actor, Vault, check_write, encoded
from apps.secrets.models import APP_OWNER, Scope, SecretAccess, SecretValue
from apps.secrets.plaintext import as_secret

VAULT = Vault()
SHOWN = (
    "app_id",
    "tenant_id",
    "scope",
    "user_id",
    "name",
    "key_id",
    "created_at",
    "updated_at",
    "updated_by",
    "last_read_at",
)
WRITABLE = ("secret", "tenant", "value")
VALUE_HELP = (
    "Write-only: stored sealed (AES-256-GCM) and never shown again, not even here."
)


class SecretValueField(forms.CharField):
    """A secret's value: a password input never filled in, held as SecretText."""

    widget = forms.PasswordInput(render_value=False)

    def __init__(self, **kwargs):
        super().__init__(strip=False, help_text=VALUE_HELP, **kwargs)

    def to_python(self, value):
        return as_secret(super().to_python(value))


def app_secret_choices():
    """Return [("app_id/name", label)] of the app secrets loaded extensions declare."""
    return [
        (f"{loaded.app_id}/{spec.name}", f"{loaded.app_id}: {spec.name}")
        for loaded in sorted(get_registry(), key=lambda x: x.app_id)
        for spec in loaded.ext.secrets.values()
        if spec.scope == Scope.APP
    ]


class SetAppSecretForm(forms.ModelForm):
    """Set an app secret (scope "app"): which one, for which tenant, and its value."""

    secret = forms.ChoiceField(
        help_text="An app secret (scope='app') a loaded extension declares."
    )
    tenant = forms.CharField(max_length=64)
    value = forms.CharField(
        widget=forms.PasswordInput(render_value=False),
        strip=False,
        help_text=VALUE_HELP,
    )

    class Meta:
        model = SecretValue
        fields = ()

    def __init__(self, *args, operator=None, row=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.operator, self.row = operator, row
        if row is not None:  # replacing this row's value: only the value is asked
            del self.fields["secret"], self.fields["tenant"]
        else:
            self.fields["secret"].choices = app_secret_choices()
            self.fields["tenant"].initial = operator.tenant_id

    @sensitive_variables("data")
    def clean(self):
        data = super().clean()
        if self.row is not None:
            app_id, name, tenant = self.row.app_id, self.row.name, self.row.tenant_id
        elif "secret" in data and "tenant" in data:
            app_id, name = data["secret"].split("/", 1)
            tenant = data["tenant"]
        else:
            return data
        if tenant != self.operator.tenant_id and not self.operator.is_superuser:
            raise forms.ValidationError(
                f"operators set secrets in their own tenant "
                f"{self.operator.tenant_id!r}; only a superuser names another"
            )
        try:
            spec = secret_specs(app_id).get(name)
            if spec is None:
                raise LookupError(
                    f"extension {app_id!r} no longer declares the secret {name!r}"
                )
            check_write(app_id, spec, operator_actor(self.operator))
            if "value" in data:
                encoded(app_id, spec, data["value"])
        except (InvocationError, LookupError, SecretWriteForbidden, ValueError) as exc:
            raise forms.ValidationError(str(exc)) from None
        data["holder"] = (Partition(tenant, app_id, APP_OWNER), spec)
        return data


def operator_actor(user):
    return Actor(SecretAccess.Actor.OPERATOR, user.get_username())


@admin.register(SecretValue)
class SecretValueAdmin(TenantScopedAdmin, admin.ModelAdmin):
    list_display = (
        "name",
        "app_id",
        "scope",
        "user_id",
        "tenant_id",
        "key_id",
        "updated_at",
        "updated_by",
        "last_read_at",
    )
    list_filter = ("scope", "app_id", "tenant_id")
    search_fields = ("=user_id", "=name")
    ordering = ("tenant_id", "app_id", "scope", "user_id", "name")
    show_full_result_count = False
    form = SetAppSecretForm

    def get_queryset(self, request):
        return super().get_queryset(request).defer("ciphertext")

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["fields"] = [f for f in self.get_fields(request, obj) if f in WRITABLE]
        form = super().get_form(request, obj, change=change, **kwargs)
        operator = request.user

        class Bound(form):
            def __init__(self, *args, **kw):
                super().__init__(*args, operator=operator, row=obj, **kw)

        return Bound

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("secret", "tenant", "value")
        if self.has_change_permission(request, obj):
            return (*SHOWN, "value")
        return SHOWN

    def get_readonly_fields(self, request, obj=None):
        return SHOWN if obj is not None else ()

    def has_change_permission(self, request, obj=None):
        allowed = super().has_change_permission(request, obj)
        return allowed and (obj is None or obj.scope == Scope.APP)

    def has_delete_permission(self, request, obj=None):
        allowed = super().has_delete_permission(request, obj)
        return allowed and (obj is None or obj.scope == Scope.APP)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # deletes go through the vault, one by one
        return actions

    @method_decorator(sensitive_post_parameters("value"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra = {**(extra_context or {})}
        if object_id is None:
            extra["title"] = "Set an app secret"
        return super().changeform_view(request, object_id, form_url, extra)

    @sensitive_variables("form")
    def save_model(self, request, obj, form, change):
        partition, spec = form.cleaned_data["holder"]
        VAULT.set(
            partition, spec, form.cleaned_data["value"], operator_actor(request.user)
        )
        row = SecretValue.objects.defer("ciphertext").get(
            tenant_id=partition.tenant_id,
            app_id=partition.app_id,
            user_id=APP_OWNER,
            scope=Scope.APP,
            name=spec.name,
        )
        for field in SHOWN:  # what the admin logs and links
            setattr(obj, field, getattr(row, field))
        obj.pk = row.pk

    def delete_model(self, request, obj):
        try:
            spec = secret_specs(obj.app_id).get(obj.name)
        except InvocationError:
            spec = None
        if spec is None or spec.scope != Scope.APP:
            # An app secret nobody declares any more: deleted (and audited) by name.
            spec = SecretSpec(name=obj.name, description="not declared", scope="app")
        partition = Partition(obj.tenant_id, obj.app_id, APP_OWNER)
        VAULT.delete(partition, spec, operator_actor(request.user))


@admin.register(SecretAccess)
class SecretAccessAdmin(TenantScopedAdmin, ReadOnlyAdmin):
    list_display = ("at", "action", "name", "app_id", "user_id", "actor", "actor_name")
    list_filter = ("action", "actor", "app_id", "scope", "tenant_id")
    search_fields = ("=user_id", "=name")
