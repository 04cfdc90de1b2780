"""One collection's documents (ctx.store's ``where`` and ``order_by``) and one
document: highlighted JSON, etag, times, audit history, and the operator's edit.

Reads and the edit go through the store core: the list is
``Partitions.browse`` (the same rules and errors as ``ctx.store.query``), the
edit ``DocumentStore.replace`` with the etag the operator saw, audited with
actor ``operator``; the operator's name lands in the admin's own history.
"""

import json

from django.contrib.admin.models import CHANGE as LOGGED_CHANGE
from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.http import Http404
from django.shortcuts import redirect

from apps.store.connections import DjangoConnection
from apps.store.core import DocumentStore
from apps.store.errors import DocumentNotFound, StoreConflict
from apps.store.history import document_history
from apps.store.models import AuditEntry, Document
from apps.store.partitions import Partitions

from .highlight import highlighted
from .site import (
    CHANGE,
    VIEW,
    can,
    console_view,
    forbidden,
    operated_partition,
    render_console,
    render_listing,
)
from .site import seconds as at_seconds

PAGE_SIZES = (25, 50, 100)
WHERE_MAX_CHARS = 16 * 1024
PREVIEW_CHARS = 120


@console_view(VIEW)
def documents(request, app_id, user_id, collection):
    """A page of one collection, filtered and ordered as ``ctx.store.query``."""
    part = operated_partition(request, app_id, user_id)
    form = {
        "where": request.GET.get("where", "").strip(),
        "order_by": request.GET.get("order_by", "").strip(),
        "limit": _page_size(request.GET.get("limit")),
    }
    error, page = None, None
    try:
        page = Partitions().browse(
            part,
            collection,
            _where(form["where"]),
            form["order_by"] or None,
            limit=form["limit"],
            cursor=request.GET.get("cursor") or None,
        )
    except (ValueError, TypeError) as exc:
        error = str(exc)
    rows = [
        {
            "id": d.id,
            "updated_at": at_seconds(d.updated_at),
            "preview": _preview(d.data),
        }
        for d in (page.data if page else [])
    ]
    context = {
        "app_id": app_id,
        "user_id": user_id,
        "collection": collection,
        "form": form,
        "page_sizes": PAGE_SIZES,
        "rows": rows,
        "error": error,
        "next_cursor": page.cursor if page else None,
    }
    return render_listing(
        request,
        "console/documents/list.html",
        context,
        title=f"{collection} of {user_id}",
    )


@console_view(VIEW)
def document(request, app_id, user_id, collection, doc_id):
    """One document; POST (change permission) saves an edit against its etag."""
    part = operated_partition(request, app_id, user_id)
    store = DocumentStore(DjangoConnection())
    if request.method == "POST":
        if not can(request, CHANGE):
            return forbidden(request, CHANGE)
        return _save(request, store, part, collection, doc_id)
    doc = _get(store, part, collection, doc_id)
    return _render_document(request, part, doc, edit_text=None)


# --- helpers ---------------------------------------------------------------
def _save(request, store, part, collection, doc_id):
    seen_etag = request.POST.get("etag", "")
    text = request.POST.get("data", "")
    error, status = None, 400
    try:
        value = json.loads(text)
        saved = store.replace(
            part, AuditEntry.Actor.OPERATOR, collection, doc_id, value, seen_etag
        )
    except json.JSONDecodeError as exc:
        error = f"The document must be JSON text: {exc}"
    except StoreConflict as exc:
        error = (
            f"Not saved: the document changed since you opened it. You edited "
            f"etag {seen_etag}; its current etag is {exc.current_etag}. "
            "Reload it to see the current version."
        )
        status = 409
    except DocumentNotFound:
        raise Http404(f"{collection}/{doc_id} no longer exists") from None
    except (ValueError, TypeError) as exc:
        error = str(exc)
    if error is None:
        _log_edit(request, part, saved)
        return redirect(request.path + f"?saved={saved.etag}")
    doc = _get(store, part, collection, doc_id)
    return _render_document(
        request, part, doc, edit_text=text, error=error, status=status
    )


def _render_document(request, part, doc, *, edit_text, error=None, status=200):
    history = [
        {
            "at": at_seconds(entry.at),
            "op": entry.op,
            "actor": entry.actor,
            "etag": entry.etag,
        }
        for entry in document_history(part, doc.collection, doc.id)
    ]
    pretty = json.dumps(doc.data, indent=2, ensure_ascii=False)
    context = {
        "app_id": part.app_id,
        "user_id": part.user_id,
        "doc": doc,
        "created": at_seconds(doc.created_at),
        "updated": at_seconds(doc.updated_at),
        "json": highlighted(doc.data),
        "history": history,
        "can_edit": can(request, CHANGE),
        "edit_text": pretty if edit_text is None else edit_text,
        "error": error,
        "saved": request.GET.get("saved") == doc.etag,
    }
    return render_console(
        request,
        "console/documents/document.html",
        context,
        title=f"{doc.collection}/{doc.id}",
        status=status,
    )


def _get(store, part, collection, doc_id):
    try:
        doc = store.get(part, collection, doc_id)
    except ValueError as exc:
        raise Http404(str(exc)) from None
    if doc is None:
        raise Http404(f"no document {collection}/{doc_id}")
    return doc


def _log_edit(request, part, saved):
    """Record the operator's name in the admin's history of the document row."""
    row = (
        Document.objects.in_partition(part.tenant_id, part.app_id, part.user_id)
        .filter(collection=saved.collection, doc_id=saved.id)
        .first()
    )
    if row is None:
        return
    LogEntry.objects.create(
        user_id=request.user.pk,
        content_type=ContentType.objects.get_for_model(Document),
        object_id=str(row.pk),
        object_repr=str(row)[:200],
        action_flag=LOGGED_CHANGE,
        change_message=f"Edited in the console; etag now {saved.etag}",
    )


def _where(text):
    """Return the parsed ``where`` text (None when empty); ValueError otherwise."""
    if not text:
        return None
    if len(text) > WHERE_MAX_CHARS:
        raise ValueError(f"where must be at most {WHERE_MAX_CHARS} characters")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f'where must be a JSON object such as {{"status": "open"}} ({exc})'
        ) from None


def _page_size(text):
    try:
        size = int(text)
    except (TypeError, ValueError):
        return PAGE_SIZES[0]
    return size if size in PAGE_SIZES else PAGE_SIZES[0]


def _preview(data):
    text = json.dumps(data, ensure_ascii=False)
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"
