"""An operator of tenant acme attacks tenant globex's rows through every admin page.

The operator holds every model permission there is, but is not a superuser:
each page over a tenant's rows (changelist, change, history, delete, actions,
search, filters, autocomplete, raw-id lookups, add forms) must stay inside
acme, answer 404 for any globex id, and leave globex's stored rows unchanged.
Every globex value carries the word "globex", so a page that leaks any of them
(a row, a filter choice, a label beside a raw id) is caught by one substring.
"""

import html

import pytest
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.utils import timezone

from apps.accounts.models import ApiToken, SecurityEvent, User
from apps.accounts.partition import Partition
from apps.accounts.security import record_threat
from apps.accounts.tenancy import TenantScopedAdmin
from apps.ai.models import AICall
from apps.api.models import OperatorAction
from apps.db.models import ExtensionMigration
from apps.egress.models import OutboundCall
from apps.extensions.models import (
    Extension,
    ExtensionHealth,
    Installation,
    LifecycleRun,
    SkeletonSection,
    WebhookCall,
)
from apps.files.models import StoredFile
from apps.gateway import tokens
from apps.gateway.models import ServiceToken
from apps.notifications.models import Notification
from apps.observability.models import RecordedError
from apps.quotas.models import QuotaLimit, Usage
from apps.scheduler.models import Schedule, ScheduleRun
from apps.secrets.models import SecretAccess, SecretValue
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.models import AuditEntry, Document, PartitionStats

pytestmark = pytest.mark.django_db

OWN, OTHER = "acme", "globex"
OWN_USER, OTHER_USER = "acme_ann", "globex_gus"
APP = "probe"
# Records of the platform, not of a tenant: gated by their model permission alone
# (schedules and webhooks run in the default tenant's system context, and their
# pages show the extension's work, not a user's data).
PLATFORM_WIDE = {
    Group: "permission bundles",
    Extension: "one row per loaded extension, switched for every tenant",
    ExtensionHealth: "the extension's health check",
    ExtensionMigration: "the extension's SQL migrations",
    WebhookCall: "requests to the extension's declared webhook URLs, no bodies",
    Schedule: "the extension's @ext.schedule declarations",
    ScheduleRun: "fires of those schedules",
    QuotaLimit: "limits per extension in every tenant; only a superuser changes one",
}


def _rows_of(tenant, user):
    """Create one row of every tenant-scoped model in ``tenant``; return them by model."""
    person = User.objects.create(username=user, imperal_id=user, tenant_id=tenant)
    part = Partition(tenant, APP, user)
    store = DocumentStore(DjangoConnection())
    store.create(part, "user", f"{tenant}_ledger", {"doc_id": f"{tenant}_doc"})
    record_threat(f"{tenant}_probe", part)
    now = timezone.now()
    return {
        User: person,
        ApiToken: ApiToken.issue(person)[0],
        SecurityEvent: SecurityEvent.objects.get(tenant_id=tenant),
        Document: Document.objects.get(tenant_id=tenant),
        AuditEntry: AuditEntry.objects.get(tenant_id=tenant),
        PartitionStats: PartitionStats.objects.get(tenant_id=tenant),
        Notification: Notification.objects.create(
            tenant_id=tenant, app_id=APP, user_id=user, message=f"{tenant} news"
        ),
        ServiceToken: tokens.issue_token(APP, user_id=user, tenant_id=tenant).row,
        OperatorAction: OperatorAction.objects.create(
            operator=f"{tenant}_op",
            operator_id=f"{tenant}_op",
            action="export",
            tenant_id=tenant,
            app_id=APP,
            user_id=user,
        ),
        SkeletonSection: SkeletonSection.objects.create(
            tenant_id=tenant,
            app_id=APP,
            user_id=user,
            section=f"{tenant}_s",
            due_at=now,
        ),
        Installation: Installation.objects.create(
            tenant_id=tenant, app_id=APP, user_id=user
        ),
        LifecycleRun: LifecycleRun.objects.create(
            app_id=APP,
            hook="on_install",
            tenant_id=tenant,
            user_id=user,
            actor=f"{tenant}_op",
            status="success",
        ),
        OutboundCall: OutboundCall.objects.create(
            started_at=now,
            tenant_id=tenant,
            app_id=APP,
            user_id=user,
            method="GET",
            scheme="https",
            host=f"api.{tenant}.example",
            status=200,
            duration_ms=1.0,
            outcome="ok",
        ),
        SecretValue: SecretValue.objects.create(
            tenant_id=tenant,
            app_id=APP,
            user_id=user,
            scope="user",
            name=f"{tenant}_token",
            ciphertext=b"sealed",
            key_id="k1",
            created_at=now,
            updated_at=now,
            updated_by=f"{tenant}_op",
        ),
        SecretAccess: SecretAccess.objects.create(
            tenant_id=tenant,
            app_id=APP,
            user_id=user,
            at=now,
            scope="user",
            name=f"{tenant}_token",
            action="read",
            actor="user",
            actor_name=f"{tenant}_reader",
        ),
        RecordedError: RecordedError.objects.create(
            error_id=f"{tenant}_error",
            kind="internal",
            exception_type="RuntimeError",
            message=f"{tenant} failure",
            traceback=f"Traceback: {tenant}",
            request_id=f"{tenant}_request",
            tenant_id=tenant,
            app_id=APP,
            user_id=user,
        ),
        Usage: Usage.objects.create(
            tenant_id=tenant, app_id=APP, user_id=user, kind="ai.tokens", used=7
        ),
        StoredFile: StoredFile.objects.create(
            tenant_id=tenant,
            app_id=APP,
            user_id=user,
            path=f"{tenant}/report.txt",
            storage_key=f"{tenant}/key",
            size=10,
            content_type="text/plain",
            created_at=now,
            updated_at=now,
        ),
        AICall: AICall.objects.create(
            tenant_id=tenant,
            app_id=APP,
            user_id=user,
            started_at=now,
            provider="openai_compatible",
            model=f"{tenant}-model",
            duration_ms=1.0,
            status="ok",
        ),
        AccessAttempt: AccessAttempt.objects.create(
            username=user,
            ip_address="10.9.9.9",
            user_agent=f"{tenant} agent",
            get_data="",
            post_data="",
            http_accept="",
            path_info="/admin/login/",
            failures_since_start=5,
            attempt_time=now,
        ),
    }


@pytest.fixture
def rows(use_extensions):
    """{"own": {model: row}, "other": {model: row}}: one row per model per tenant."""
    use_extensions("tests.fixtures.extensions.probe")
    return {"own": _rows_of(OWN, OWN_USER), "other": _rows_of(OTHER, OTHER_USER)}


def _operator(name, tenant=OWN, superuser=False):
    user = User.objects.create(
        username=name,
        imperal_id=name,
        tenant_id=tenant,
        is_staff=True,
        is_superuser=superuser,
    )
    user.user_permissions.set(Permission.objects.all())
    client = Client()
    client.force_login(user)
    return user, client


@pytest.fixture
def olga(rows):
    """A staff operator of acme holding every model permission, not a superuser."""
    return _operator("olga")[1]


def snapshot():
    """Return what an acme operator must not change: every row of every scoped
    model in globex, and every user outside acme's reach (password included)."""
    state = {
        model._meta.label: sorted(
            map(
                repr,
                model.objects.filter(
                    admin.site._registry[model].tenant_scope(OTHER)
                ).values(),
            )
        )
        for model in SCOPED
    }
    out_of_reach = User.objects.exclude(tenant_id=OWN, is_superuser=False)
    state["users"] = sorted(out_of_reach.values_list("username", "password"))
    return state


SCOPED = [
    m for m, a in admin.site._registry.items() if isinstance(a, TenantScopedAdmin)
]


def url(model, view="changelist", *args):
    from django.urls import reverse

    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}"
    return reverse(name, args=args)


def password_url(user):
    return f"/admin/accounts/user/{user.pk}/password/"


def test_every_admin_page_over_tenant_rows_is_scoped():
    for model, model_admin in admin.site._registry.items():
        fields = {f.name: f for f in model._meta.get_fields()}
        keyed = "tenant_id" in fields or any(
            getattr(f, "related_model", None) is User and f.many_to_one
            for f in fields.values()
        )
        scoped = isinstance(model_admin, TenantScopedAdmin)
        assert scoped or (not keyed and model in PLATFORM_WIDE), model
    assert {m._meta.label for m in SCOPED} == {
        "accounts.User",
        "accounts.ApiToken",
        "accounts.SecurityEvent",
        "store.Document",
        "store.AuditEntry",
        "store.PartitionStats",
        "notifications.Notification",
        "gateway.ServiceToken",
        "api.OperatorAction",
        "extensions.SkeletonSection",
        "extensions.Installation",
        "extensions.LifecycleRun",
        "observability.RecordedError",
        "axes.AccessAttempt",
        "egress.OutboundCall",
        "secrets.SecretValue",
        "secrets.SecretAccess",
        "quotas.Usage",
        "files.StoredFile",
        "ai.AICall",
    }


@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m._meta.label)
def test_the_changelist_shows_only_the_operators_tenant(olga, rows, model):
    page = olga.get(url(model))
    assert page.status_code == 200
    text = page.content.decode()
    assert url(model, "change", rows["own"][model].pk) in text
    assert url(model, "change", rows["other"][model].pk) not in text
    assert OTHER not in text  # no row, no filter choice, no count of globex


@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m._meta.label)
def test_another_tenants_id_is_a_404_on_every_page(olga, rows, model):
    before = snapshot()
    other = rows["other"][model].pk
    assert olga.get(url(model, "change", rows["own"][model].pk)).status_code == 200
    for view in ("change", "history", "delete"):
        assert olga.get(url(model, view, other)).status_code == 404, view
    assert olga.post(url(model, "delete", other), {"post": "yes"}).status_code == 404
    assert olga.post(url(model, "change", other), {}).status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m._meta.label)
def test_search_and_filters_reach_no_other_tenant(olga, rows, model):
    field = admin.site._registry[model].tenant_field
    for query in ({"q": OTHER_USER}, {"q": OTHER}, {field: OTHER}):
        page = olga.get(url(model), query)
        assert page.status_code in (200, 302, 400), query
        assert (
            url(model, "change", rows["other"][model].pk) not in page.content.decode()
        )


@pytest.mark.parametrize("model", SCOPED, ids=lambda m: m._meta.label)
def test_no_action_touches_another_tenants_rows(olga, rows, model):
    before = snapshot()
    offered = admin.site._registry[model].get_actions(_request_of(olga))
    # Deleting last: "select across" deletes acme's rows, the operator's own included.
    names = sorted(set(offered) - {"delete_selected"}) + ["delete_selected"]
    other, own = str(rows["other"][model].pk), str(rows["own"][model].pk)
    for name in names:
        body = {"action": name, "index": "0", "post": "yes"}
        olga.post(url(model), {**body, "_selected_action": [other]})
        assert snapshot() == before, name
        olga.post(url(model), {**body, "_selected_action": [own], "select_across": "1"})
        assert snapshot() == before, (name, "select_across")


def _request_of(client):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = User.objects.get(pk=client.session["_auth_user_id"])
    return request


def test_autocomplete_and_raw_id_lookups_offer_only_the_operators_users(olga, rows):
    found = olga.get(
        "/admin/autocomplete/",
        {"app_label": "accounts", "model_name": "apitoken", "field_name": "user"},
    ).json()["results"]
    assert OWN_USER in str(found) and OTHER not in str(found)
    popup = olga.get(url(User), {"_to_field": "id", "_popup": "1"}).content.decode()
    assert OWN_USER in popup and OTHER not in popup
    other_user = rows["other"][User].pk
    form = olga.get(url(ApiToken, "add"), {"user": other_user}).content.decode()
    assert OTHER not in form  # no label naming globex's user beside the raw id


def test_an_api_token_is_never_issued_for_another_tenants_user(olga, rows):
    before = snapshot()
    other_user = rows["other"][User].pk
    answer = olga.post(url(ApiToken, "add"), {"user": other_user, "expires": ""})
    assert (
        answer.status_code == 200 and "Select a valid choice" in answer.content.decode()
    )
    assert snapshot() == before
    answer = olga.post(
        url(ApiToken, "add"), {"user": rows["own"][User].pk, "expires": ""}
    )
    assert answer.status_code == 302  # the same form works inside acme


def test_add_forms_refuse_another_tenant_by_name(olga, rows):
    before = snapshot()
    token = {"app_id": APP, "tenant_id": OTHER, "user_id": "", "rotate": ""}
    answer = olga.post(url(ServiceToken, "add"), token)
    assert "own tenant 'acme'" in html.unescape(answer.content.decode())
    secret = "x-Long-pass-91"
    person = {
        "username": "mole",
        "password1": secret,
        "password2": secret,
        "imperal_id": "mole",
        "tenant_id": OTHER,
        "role": "user",
    }
    answer = olga.post(url(User, "add"), person)
    assert "own tenant 'acme'" in html.unescape(answer.content.decode())
    assert snapshot() == before and not User.objects.filter(username="mole").exists()
    assert 'value="acme"' in olga.get(url(ServiceToken, "add")).content.decode()
    olga.post(url(ServiceToken, "add"), {**token, "tenant_id": OWN})
    assert ServiceToken.objects.filter(tenant_id=OWN, user_id="").count() == 1


def test_another_tenants_password_cannot_be_set(olga, rows):
    before = snapshot()
    page = f"/admin/accounts/user/{rows['other'][User].pk}/password/"
    assert olga.get(page).status_code == 404
    new = {"password1": "Taken-over-pass-77", "password2": "Taken-over-pass-77"}
    assert olga.post(page, new).status_code == 404
    assert snapshot() == before


def test_a_superusers_account_is_out_of_an_operators_reach(olga, rows):
    root, _ = _operator("root", superuser=True)
    before = snapshot()
    for page in (
        url(User, "change", root.pk),
        f"/admin/accounts/user/{root.pk}/password/",
    ):
        assert olga.get(page).status_code == 404
    assert "root" not in olga.get(url(User)).content.decode()
    own_page = olga.get(url(User, "change", User.objects.get(username="olga").pk))
    assert 'name="is_superuser"' not in own_page.content.decode()
    assert snapshot() == before


def test_a_superuser_sees_every_tenant(rows):
    _, root = _operator("root", superuser=True)
    for model in SCOPED:
        text = root.get(url(model)).content.decode()
        assert url(model, "change", rows["other"][model].pk) in text, model
        assert (
            root.get(url(model, "change", rows["other"][model].pk)).status_code == 200
        )
