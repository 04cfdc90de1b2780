"""One document: shown once, its history with each operator's change, and the
operator's create, edit and delete.

Every write goes through the store core as actor ``operator`` with the
operator's name, so its audit row records who and what changed; an
OperatorAction records it too, in the same transaction. An edit replaces the
document only at the etag the operator saw; one that meets a newer etag shows
how the edit differs from what is stored, and offers an explicit overwrite: the
same etag-checked save, against the etag just shown, never a blind write.
"""

import json

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect
from django.urls import NoReverseMatch, reverse
from django.views.decorators.http import require_http_methods

from apps.api.actions import Action, record
from apps.store.changes import document_change
from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.errors import DocumentExists, DocumentNotFound, StoreConflict
from apps.store.models import AuditEntry
from apps.store.stats import Statistics

from . import history, showing
from .site import (
    ADD,
    CHANGE,
    DELETE,
    VIEW,
    NotFound,
    can,
    console_view,
    forbidden,
    operated_partition,
    partition_page,
    render_console,
    users_page,
)
from .site import seconds as at_seconds

OPERATOR = AuditEntry.Actor.OPERATOR
NEW_DOCUMENT = "{\n  \n}"


@console_view(VIEW)
def document(request, app_id, user_id, collection, doc_id):
    """One document; ``?edit=1`` opens the editor, POST (change permission)
    saves the edit against its etag."""
    part = operated_partition(request, app_id, user_id)
    store = _store()
    if request.method == "POST":
        if not can(request, CHANGE):
            return forbidden(request, CHANGE)
        return _save(request, store, part, collection, doc_id)
    doc = _get(store, part, collection, doc_id)
    editing = request.GET.get("edit") == "1" and can(request, CHANGE)
    return _render(request, part, doc, editing=editing)


@require_http_methods(["GET", "POST"])
@console_view(ADD)
def create(request, app_id, user_id):
    """GET: a new document's form (collection, optional id, JSON); POST: create
    it as the operator and open it."""
    part = operated_partition(request, app_id, user_id)
    source = request.POST if request.method == "POST" else request.GET
    form = {
        "collection": source.get("collection", "").strip(),
        "doc_id": source.get("doc_id", "").strip(),
        "data": source.get("data", NEW_DOCUMENT),
    }
    if request.method == "GET":
        return _new_page(request, part, form)
    try:
        created = _create(request, part, form)
    except DocumentExists:
        return _new_page(request, part, form, "exists", 409)
    except (ValueError, TypeError) as exc:
        return _new_page(request, part, form, str(exc), 400)
    messages.success(request, f"Created {created.collection}/{created.id}.")
    return redirect(_document_url(part, created.collection, created.id))


@require_http_methods(["GET", "POST"])
@console_view(DELETE)
def delete(request, app_id, user_id, collection, doc_id):
    """GET: what the delete takes away; POST: delete it at the etag shown, as
    the operator, then back to the collection (or what is left)."""
    part = operated_partition(request, app_id, user_id)
    store = _store()
    doc = _get(store, part, collection, doc_id)
    if request.method == "GET":
        return _delete_page(request, part, doc)
    seen = request.POST.get("etag", "")
    try:
        _delete(request, store, part, doc, seen)
    except StoreConflict as exc:
        current = _get(store, part, collection, doc_id)
        return _delete_page(
            request, part, current, _changed_since(seen, exc.current_etag), 409
        )
    except (ValueError, TypeError) as exc:
        return _delete_page(request, part, doc, str(exc), 400)
    messages.success(
        request,
        f"Deleted {collection}/{doc_id}. Its data stays in the audit trail's record "
        "of the delete until the trail is pruned or the partition erased.",
    )
    return redirect(_after_delete(part, collection))


# --- writes ----------------------------------------------------------------
def _save(request, store, part, collection, doc_id):
    seen = request.POST.get("etag", "")
    text = request.POST.get("data", "")
    overwrite = request.POST.get("overwrite") == "1"
    try:
        value = _document_json(text)
        with transaction.atomic():
            saved = store.replace(
                part, OPERATOR, collection, doc_id, value, seen, operator=_name(request)
            )
            _record(request, Action.EDIT, part, saved, overwrite=overwrite)
    except StoreConflict:
        # Compare with, and offer to overwrite, the version read now: the page
        # shows this one, whatever was current when the save was refused.
        current = _get(store, part, collection, doc_id)
        conflict = _conflict(value, current, seen)
        return _render(
            request, part, current, editing=True, edit_text=text, conflict=conflict
        )
    except DocumentNotFound:
        raise NotFound(
            f"{collection}/{doc_id} no longer exists: someone deleted it while you "
            "edited it. Your edit was not saved.",
            _collection_page(part, collection),
        ) from None
    except (ValueError, TypeError) as exc:
        current = _get(store, part, collection, doc_id)
        return _render(
            request,
            part,
            current,
            editing=True,
            edit_text=text,
            error=str(exc),
            etag=seen,
        )
    return redirect(request.path + f"?saved={saved.etag}")


def _create(request, part, form):
    value = _document_json(form["data"])
    with transaction.atomic():
        created = _store().create(
            part,
            OPERATOR,
            form["collection"],
            value,
            doc_id=form["doc_id"] or None,
            operator=_name(request),
        )
        _record(request, Action.CREATE, part, created)
    return created


def _delete(request, store, part, doc, seen):
    """Delete ``doc`` at etag ``seen`` as the operator; raise StoreConflict,
    ValueError for a missing etag, NotFound when it is gone already."""
    if not seen:
        raise ValueError("the delete needs the etag of the document you saw")
    with transaction.atomic():
        deleted = store.delete(
            part, OPERATOR, doc.collection, doc.id, seen, operator=_name(request)
        )
        if not deleted:
            raise NotFound(
                f"{doc.collection}/{doc.id} no longer exists.",
                _collection_page(part, doc.collection),
            )
        _record(request, Action.DELETE, part, doc, etag=seen)


def _record(request, action, part, doc, etag=None, **detail):
    """Record the operator's write of ``doc`` (the etag it left, or had)."""
    detail = {"etag": etag or doc.etag, **{k: v for k, v in detail.items() if v}}
    record(
        request.user,
        action,
        part,
        collection=doc.collection,
        doc_id=doc.id,
        detail=detail,
    )


def _document_json(text):
    """Return the JSON ``text`` parsed; ValueError naming the rule otherwise
    (the store then checks it is an object without NaN)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"The document must be JSON text: {exc}") from None


# --- pages -----------------------------------------------------------------
def _render(
    request,
    part,
    doc,
    *,
    editing,
    edit_text=None,
    error=None,
    conflict=None,
    etag=None,
):
    """Render the document page: the document once (viewed or in the editor)."""
    full = request.GET.get("full") == "1"
    shown = showing.shown(doc.data, full=full, editing=editing, edit_text=edit_text)
    status = 409 if conflict else 400 if error else 200
    context = {
        **_base(part, doc),
        "shown": shown,
        "editing": editing,
        "full": full,
        "error": error,
        "conflict": conflict,
        "form_etag": conflict["current"] if conflict else etag or doc.etag,
        "history": history.rows(part, doc.collection, doc.id),
        "can_edit": can(request, CHANGE),
        "can_delete": can(request, DELETE),
        "saved": request.GET.get("saved") == doc.etag,
        "urls": _urls(part, doc, full),
    }
    return render_console(
        request,
        "console/documents/document.html",
        context,
        title=f"{doc.collection}/{doc.id}",
        status=status,
    )


def _new_page(request, part, form, error=None, status=200):
    """Render the new document's form (``error``: "exists" or a rule broken)."""
    context = {
        "app_id": part.app_id,
        "user_id": part.user_id,
        "form": form,
        "error": error,
        "existing_url": _existing_url(part, form) if status == 409 else "",
    }
    title = f"New document of {part.user_id}"
    template = "console/documents/new.html"
    return render_console(request, template, context, title=title, status=status)


def _delete_page(request, part, doc, error=None, status=200):
    """Render what deleting ``doc`` takes away, with the form at its etag."""
    context = {
        **_base(part, doc),
        "error": error,
        "preview": showing.shown(doc.data, full=False)["html"],
        "cancel": _document_url(part, doc.collection, doc.id),
    }
    title = f"Delete {doc.collection}/{doc.id}?"
    template = "console/documents/delete.html"
    return render_console(request, template, context, title=title, status=status)


def _base(part, doc):
    return {
        "app_id": part.app_id,
        "user_id": part.user_id,
        "doc": doc,
        "created": at_seconds(doc.created_at),
        "updated": at_seconds(doc.updated_at),
    }


def _conflict(mine, stored, seen):
    """Return what the conflict page shows: the etags and, path by path, the
    stored value against the operator's."""
    change = document_change(
        stored.data, mine, hide=False, max_bytes=256 * 1024, value_max_bytes=8192
    )
    return {
        "seen": seen,
        "current": stored.etag,
        "rows": history.change_rows(change, shown_chars=2000),
        "more": change["more"],
    }


def _changed_since(seen, current):
    return (
        f"Not deleted: the document changed since you opened it (you saw etag "
        f"{seen}; it is now {current}). Look at it again below before deleting."
    )


def _urls(part, doc, full):
    base = _document_url(part, doc.collection, doc.id)
    edit = "?edit=1&full=1" if full else "?edit=1"
    return {
        "save": base + ("?full=1" if full else ""),
        "view": base + ("?full=1" if full else ""),
        "edit": base + edit,
        "full": base + "?full=1",
        "edit_full": base + "?edit=1&full=1",
        "delete": reverse(
            "console:document-delete",
            args=[part.app_id, part.user_id, doc.collection, doc.id],
        ),
        "collection": reverse(
            "console:documents", args=[part.app_id, part.user_id, doc.collection]
        ),
    }


# --- helpers ---------------------------------------------------------------
def _store():
    return DocumentStore(DjangoConnection())


def _name(request):
    return request.user.get_username()


def _get(store, part, collection, doc_id):
    """Return the document; raise NotFound with the way back when there is none."""
    try:
        doc = store.get(part, collection, doc_id)
    except (ValueError, TypeError) as exc:
        raise NotFound(str(exc), partition_page(part)) from None
    if doc is None:
        raise NotFound(
            f"No document {collection}/{doc_id} in the partition of {part.user_id} "
            f"in {part.app_id}.",
            _collection_page(part, collection),
        )
    return doc


def _collection_page(part, collection):
    """Return (label, url) of the nearest page that still exists above a document."""
    reader = Statistics()
    if reader.collection(part, collection) is not None:
        url = reverse("console:documents", args=[part.app_id, part.user_id, collection])
        return (f"{collection} of {part.user_id}", url)
    if reader.partition(part) is not None:
        return partition_page(part)
    return users_page(part.app_id)


def _after_delete(part, collection):
    return _collection_page(part, collection)[1]


def _document_url(part, collection, doc_id):
    return reverse(
        "console:document", args=[part.app_id, part.user_id, collection, doc_id]
    )


def _existing_url(part, form):
    """Return the URL of the document a create collided with ("" if none)."""
    doc_id = form["doc_id"] or _json_doc_id(form["data"])
    try:
        return _document_url(part, form["collection"], doc_id)
    except NoReverseMatch:
        return ""


def _json_doc_id(text):
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return ""
    return value.get("doc_id", "") if isinstance(value, dict) else ""
