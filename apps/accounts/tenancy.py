"""Which tenant an operator acts in: their own; only a superuser crosses tenants.

The one home of that rule. The operator API's ``?tenant=``, the console's
partitions, Imperal's call route (``act_for_users``) and every admin page over
a tenant's rows ask it here; :class:`TenantScopedAdmin` is its admin face: the
queryset every changelist, change page, delete, action, search, filter, history
and raw-id lookup is built from, as Django's admin filters by permission.
"""

from django.contrib.admin import widgets
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import Http404


class OtherTenantRefused(PermissionError):
    """An operator named a tenant other than their own (the message says the rule)."""


def crosses_tenants(user):
    """Return whether ``user`` may act in any tenant (a superuser)."""
    return bool(getattr(user, "is_superuser", False))


def operator_tenant(user, asked=None):
    """Return the tenant ``user`` acts in: their own, or ``asked`` for a superuser.

    ``asked`` empty or None means their own. Raises OtherTenantRefused when a
    user who is not a superuser names another tenant.
    """
    if asked in (None, "", user.tenant_id):
        return user.tenant_id
    if not crosses_tenants(user):
        raise OtherTenantRefused(
            f"operators act in their own tenant {user.tenant_id!r} (asked: "
            f"{str(asked)[:64]!r}); only a superuser may name another"
        )
    return str(asked)[:64]


def operated_users(tenant):
    """Return the Q of the users an operator of ``tenant`` sees and manages: the
    tenant's, superusers excepted (their password or permissions would lift an
    operator out of the tenant)."""
    return Q(tenant_id=tenant, is_superuser=False)


class TenantScopedAdmin:
    """A ModelAdmin mixin over rows that each belong to one tenant.

    An operator sees, opens, changes, deletes and acts on their own tenant's
    rows only; any id outside them is a 404. Add forms take the operator's own
    tenant, and a foreign key offers only rows the related admin would show.
    A superuser sees every tenant. ``tenant_field`` is the lookup naming a row's
    tenant; override :meth:`tenant_scope` when one lookup cannot say it.
    """

    tenant_field = "tenant_id"

    def tenant_scope(self, tenant):
        """Return the Q of the rows belonging to ``tenant``."""
        return Q(**{self.tenant_field: tenant})

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if crosses_tenants(request.user):
            return queryset
        return queryset.filter(self.tenant_scope(request.user.tenant_id))

    def get_object(self, request, object_id, from_field=None):
        """Return the row ``object_id`` of the operator's scope; raises Http404
        (the same for a row of another tenant and for no row at all)."""
        found = super().get_object(request, object_id, from_field)
        if found is None:
            raise Http404(f"no such {self.opts.verbose_name} here")
        return found

    def get_list_filter(self, request):
        filters = super().get_list_filter(request)
        if crosses_tenants(request.user):
            return filters
        return [f for f in filters if f != self.tenant_field]

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        if not crosses_tenants(request.user) and "__" not in self.tenant_field:
            initial[self.tenant_field] = request.user.tenant_id
        return initial

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        if crosses_tenants(request.user) or self.tenant_field not in form.base_fields:
            return form
        return _in_operators_tenant(form, self.tenant_field, request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        related = self.admin_site._registry.get(db_field.remote_field.model)
        if isinstance(related, TenantScopedAdmin) and "queryset" not in kwargs:
            kwargs["queryset"] = related.get_queryset(request)
            if db_field.name in self.raw_id_fields:
                kwargs["widget"] = ScopedRawIdWidget(
                    db_field.remote_field,
                    self.admin_site,
                    kwargs["queryset"],
                    using=kwargs.get("using"),
                )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ScopedRawIdWidget(widgets.ForeignKeyRawIdWidget):
    """A raw-id input that names a row beside it only if ``queryset`` holds it."""

    def __init__(self, rel, admin_site, queryset, attrs=None, using=None):
        super().__init__(rel, admin_site, attrs, using)
        self.queryset = queryset

    def label_and_url_for_value(self, value):
        key = self.rel.get_related_field().name
        try:
            if not self.queryset.filter(**{key: value}).exists():
                return "", ""
        except (ValueError, ValidationError):
            return "", ""
        return super().label_and_url_for_value(value)


def _in_operators_tenant(form_class, field, user):
    """Return ``form_class`` refusing, on ``field``, any tenant but ``user``'s."""
    inherited = getattr(form_class, f"clean_{field}", None)

    def clean_tenant(self):
        value = inherited(self) if inherited else self.cleaned_data.get(field)
        try:
            return operator_tenant(user, value)
        except OtherTenantRefused as exc:
            raise ValidationError(str(exc), code="other_tenant") from None

    scoped = type(form_class.__name__, (form_class,), {f"clean_{field}": clean_tenant})
    scoped.base_fields = form_class.base_fields  # as the admin built them
    return scoped
