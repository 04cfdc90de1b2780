"""``/v1/internal/extcache/{app}/{user}/{model}/{key_hash}``: imperal-sdk's CacheClient.

A thin face over CacheCore's gateway functions: the entry a PUT stores is the
one ``ctx.cache`` reads in process, and back. Answers as the SDK reads them:
GET 200 with the envelope or 404, PUT and DELETE 204, an oversized body 413.
"""

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from rest_framework.exceptions import NotFound
from rest_framework.parsers import BaseParser
from rest_framework.response import Response

from apps.cache.core import get_core
from apps.cache.validation import VALUE_MAX_BYTES
from apps.common.http import read_body
from apps.extensions.errors import ExtensionNotFound
from apps.extensions.registry import get_registry
from apps.quotas import limits as quota_limits

from ..identity import acting_partition
from .base import GatewayView

# Bodies a little over the cap still reach the core, whose error names the rule.
CACHE_BODY_SLACK_BYTES = 1024


class RawJSONBodyParser(BaseParser):
    """Hand the view the body's bytes: the cache core measures and parses them itself."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        """Return the body bytes; raise PayloadTooLarge past the view's limit."""
        return read_body(stream, parser_context)


class CacheEntry(GatewayView):
    """One cache entry of one (tenant, app, user), by model name and key hash."""

    parser_classes = [RawJSONBodyParser]
    max_body_bytes = VALUE_MAX_BYTES + CACHE_BODY_SLACK_BYTES
    body_limit_rule = "I-CACHE-VALUE-SIZE-CAP-64KB"

    def get(self, request, app, user, model, key_hash):
        partition, extension = self._scope(request, app, user)
        stored = _core().get_entry(partition, extension, model, key_hash)
        if stored is None:
            raise NotFound(f"no cache entry {model}/{key_hash} for this user")
        return HttpResponse(stored, content_type="application/json")

    def put(self, request, app, user, model, key_hash):
        partition, extension = self._scope(request, app, user)
        body = request.data if isinstance(request.data, bytes) else b""
        quota_limits.refresh()
        _core().put_entry(partition, extension, model, key_hash, body)
        return Response(status=204)

    def delete(self, request, app, user, model, key_hash):
        partition, extension = self._scope(request, app, user)
        _core().delete_entry(partition, extension, model, key_hash)
        return Response(status=204)

    def _scope(self, request, app, user):
        partition = acting_partition(
            request, request.query_params, path_app=app, path_user=user
        )
        loaded = get_registry().get(partition.app_id)
        if loaded is None:
            raise ExtensionNotFound(partition.app_id)
        return partition, loaded.ext


def _core():
    core = get_core()
    if core is None:
        raise ImproperlyConfigured("IMPERAL_CACHE is not set: ctx.cache has no backend")
    return core
