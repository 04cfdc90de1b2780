"""The gateway's routes described as OpenAPI 3, for schemathesis.

imperal-sdk 6.3.7's clients (store/client.py, cache/client.py, notify.py,
skeleton/client.py, secrets/client.py) and the isolated worker's dispatch client are
the gateway's specification, so its routes are not
in the platform's published schema (apps/api/schema.py's only_api_routes)
skeleton/client.py, secrets/client.py, ai/client.py, storage/client.py) are the
gateway's specification, so its routes are not in the platform's published schema
(apps/api/schema.py's only_api_routes)
but described here, from those clients, and checked against the server by
tests/gateway/test_contract.py. Success bodies are described as loosely as
the SDK reads them; every error is the one error shape.
"""

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "detail"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "detail": {"type": "object"},
            },
            "additionalProperties": False,
        }
    },
}
DOCUMENT = {
    "type": "object",
    "required": ["id", "collection", "data", "etag"],
    "properties": {
        "id": {"type": "string"},
        "collection": {"type": "string"},
        "data": {"type": "object"},
        "etag": {"type": "string"},
    },
}
# The store's rules (apps/store/validation.py); any other name is a 404 or a 400.
COLLECTION = {
    "type": "string",
    "minLength": 1,
    "maxLength": 128,
    "pattern": r"^[^:*?\[\]/\s]+$",
}
DOC_ID = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[^/\s]+$"}
NAME = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[^/\s]+$"}
KEY_HASH_VALUE = {"type": "string", "pattern": "^[0-9a-f]{16}$"}


def _json(schema):
    return {"content": {"application/json": {"schema": schema}}}


def _answers(ok_status, ok_schema, *errors):
    """Return the responses of an operation: its success, then the error shape for
    ``errors`` and for the statuses every gateway route may answer."""
    responses = {str(ok_status): {"description": "done", **_json(ok_schema)}}
    if ok_schema is None:
        responses[str(ok_status)] = {"description": "done, no body"}
    for status in sorted({400, 401, 403, 404, 405, 413, 415, 503, *errors}):
        responses[str(status)] = {"description": "refused", **_json(ERROR)}
    return responses


def _path(*names, **schemas):
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": schemas.get(name, NAME),
        }
        for name in names
    ]


def _query(name, schema):
    return {"name": name, "in": "query", "required": False, "schema": schema}


def _body(properties, required=(), optional=False):
    """Return a JSON object request body; ``optional``: the route reads no body as {}."""
    return {
        "required": not optional,
        **_json(
            {"type": "object", "properties": properties, "required": list(required)}
        ),
    }


FILE_PATH = {"type": "string", "minLength": 1, "maxLength": 512}
FILE_INFO = {
    "type": "object",
    "required": ["path", "size", "content_type", "created_at", "url"],
    "properties": {"path": {"type": "string"}, "size": {"type": "integer"}},
}
AI_RESULT = {
    "type": "object",
    "required": ["text", "model", "usage", "stop_reason", "tokens_used"],
}
STORE_ITEM = "/v1/internal/store/{collection}/{doc_id}"
ENTRY = "/v1/internal/extcache/{app}/{user}/{model}/{key_hash}"
SCHEMA = {
    "openapi": "3.0.3",
    "info": {"title": "imperal-platform gateway (imperal-sdk 6.3.7)", "version": "1"},
    "paths": {
        "/v1/internal/store": {
            "post": {
                "summary": "StoreClient.create",
                "requestBody": _body(
                    {"collection": COLLECTION, "data": {"type": "object"}},
                    required=["collection", "data"],
                ),
                "responses": _answers(201, DOCUMENT, 409),
            }
        },
        STORE_ITEM: {
            "parameters": _path(
                "collection", "doc_id", collection=COLLECTION, doc_id=DOC_ID
            ),
            "get": {
                "summary": "StoreClient.get",
                "responses": _answers(200, DOCUMENT),
            },
            "patch": {
                "summary": "StoreClient.update",
                "requestBody": _body(
                    {"data": {"type": "object"}, "if_match": {"type": "string"}},
                    required=["data"],
                ),
                "responses": _answers(200, DOCUMENT, 409),
            },
            "delete": {
                "summary": "StoreClient.delete",
                "parameters": [_query("if_match", {"type": "string"})],
                "responses": _answers(200, {"type": "object"}, 409),
            },
        },
        "/v1/internal/store/{collection}/query": {
            "parameters": _path("collection", collection=COLLECTION),
            "post": {
                "summary": "StoreClient.query",
                "requestBody": _body(
                    {
                        "where": {"type": "object", "nullable": True},
                        "order_by": {"type": "string", "nullable": True},
                        "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
                        "cursor": {"type": "string", "nullable": True},
                    },
                    optional=True,
                ),
                "responses": _answers(
                    200,
                    {
                        "type": "object",
                        "required": ["data", "cursor", "has_more"],
                        "properties": {"data": {"type": "array", "items": DOCUMENT}},
                    },
                ),
            },
        },
        "/v1/internal/store/{collection}/count": {
            "parameters": _path("collection", collection=COLLECTION),
            "post": {
                "summary": "StoreClient.count",
                "requestBody": _body(
                    {"where": {"type": "object", "nullable": True}}, optional=True
                ),
                "responses": _answers(
                    200,
                    {
                        "type": "object",
                        "required": ["count"],
                        "properties": {"count": {"type": "integer"}},
                    },
                ),
            },
        },
        "/v1/internal/store/{collection}/list_users": {
            "parameters": _path("collection", collection=COLLECTION),
            "get": {
                "summary": "StoreClient.list_users (system identity only)",
                "parameters": [
                    _query(
                        "limit", {"type": "integer", "minimum": 1, "maximum": 10_000}
                    )
                ],
                "responses": _answers(200, {"type": "object"}),
            },
        },
        "/v1/internal/store/{collection}/all": {
            "parameters": _path("collection", collection=COLLECTION),
            "get": {
                "summary": "StoreClient.query_all (system identity only)",
                "parameters": [
                    _query(
                        "limit", {"type": "integer", "minimum": 1, "maximum": 10_000}
                    )
                ],
                "responses": _answers(200, {"type": "array"}),
            },
        },
        ENTRY: {
            "parameters": _path(
                "app", "user", "model", "key_hash", key_hash=KEY_HASH_VALUE
            ),
            "get": {
                "summary": "CacheClient.get",
                "responses": _answers(200, {"type": "object"}),
            },
            "put": {
                "summary": "CacheClient.set",
                "requestBody": _body(
                    {
                        "envelope": {"type": "object"},
                        "ttl_seconds": {
                            "type": "integer",
                            "minimum": 5,
                            "maximum": 300,
                        },
                    },
                    required=["envelope", "ttl_seconds"],
                ),
                "responses": _answers(204, None),
            },
            "delete": {
                "summary": "CacheClient.delete",
                "responses": _answers(204, None),
            },
        },
        "/v1/internal/notify": {
            "post": {
                "summary": "NotifyClient.send",
                "requestBody": _body(
                    # Past 10,000 characters the core answers 413 payload_too_large,
                    # which schemathesis does not count as a refusal: no maxLength.
                    {"message": {"type": "string", "minLength": 1}},
                    required=["message"],
                ),
                "responses": _answers(201, {"type": "object"}),
            }
        },
        "/v1/internal/skeleton/{app}/{user}/{section}": {
            "parameters": _path("app", "user", "section"),
            "get": {
                "summary": "SkeletonClient.get",
                "responses": _answers(200, {"type": "object"}),
            },
        },
        # imperal-sdk's AIClient (ai/client.py). No model provider is configured in
        # these tests: every accepted request is 501 not_served.
        # apps/runtime/worker/http.py: an isolated worker's ctx.http, with the
        # invocation's call token only (this test's service token: each is a 401).
        "/v1/internal/http": {
            "post": {
                "summary": "ctx.http in an isolated worker (GatewayHTTPClient.request)",
                "requestBody": _body(
                    {
                        "method": {"type": "string"},
                        "url": {"type": "string"},
                        "headers": {"type": "object"},
                        "params": {"type": "object"},
                        "content": {"type": "string"},
                        "timeout": {"type": "number"},
                        "follow_redirects": {"type": "boolean"},
                    },
                    required=["method", "url"],
                ),
                "responses": _answers(
                    200,
                    {"type": "object", "required": ["status_code", "headers"]},
                    429,
                    502,
                    504,
                ),
            },
        },
        # apps/runtime/worker/progress.py and fanout.py: an isolated call's reports
        # to its kernel, with its call token only (this test's service token: 401).
        "/v1/internal/progress": {
            "post": {
                "summary": "ctx.progress in an isolated worker (ProgressSender)",
                "requestBody": _body(
                    {"percent": {"type": "number"}, "message": {"type": "string"}},
                    required=["percent"],
                ),
                "responses": _answers(200, {"type": "object"}, 429),
            },
        },
        "/v1/internal/deliveries": {
            "post": {
                "summary": "a fire's delivered users (WorkerLedger.flush)",
                "requestBody": _body(
                    {
                        "users": {"type": "array", "items": {"type": "string"}},
                        "notifications": {"type": "array"},
                    },
                    required=["users"],
                ),
                "responses": _answers(200, {"type": "object"}),
            },
        },
        "/v1/internal/deliveries/hold": {
            "post": {
                "summary": "a notification held for its user's delivery (WorkerLedger)",
                "requestBody": _body(
                    {"user_id": {"type": "string"}, "message": {"type": "string"}},
                    required=["user_id", "message"],
                ),
                "responses": _answers(200, {"type": "object"}),
            },
        },
        # apps/runtime/worker/db.py: an isolated worker's ctx.db, with the
        # invocation's call token only (this test's service token: each is a 401).
        **{
            f"/v1/internal/db/{action}": {
                "post": {
                    "summary": f"ctx.db in an isolated worker: {action}",
                    "requestBody": _body(properties, required, optional=not required),
                    "responses": _answers(200, {"type": "object"}, 409),
                }
            }
            for action, properties, required in (
                (
                    "execute",
                    {
                        "sql": {"type": "string"},
                        "params": {"type": "object"},
                        "session": {"type": "string"},
                    },
                    ["sql"],
                ),
                ("begin", {}, []),
                ("commit", {"session": {"type": "string"}}, ["session"]),
                ("rollback", {"session": {"type": "string"}}, ["session"]),
                ("ping", {"session": {"type": "string"}}, ["session"]),
            )
        },
        "/v1/internal/ai/complete": {
            "post": {
                "summary": "AIClient.complete",
                "requestBody": _body(
                    {
                        "prompt": {"type": "string", "minLength": 1},
                        "model": {"type": "string"},
                        "extension_id": {"type": "string"},
                    },
                    required=["prompt", "model"],
                ),
                "responses": _answers(200, AI_RESULT, 501, 502, 504),
            }
        },
        # imperal-sdk's StorageClient (storage/client.py).
        "/v1/internal/storage/upload": {
            "post": {
                "summary": "StorageClient.upload",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "file": {"type": "string", "format": "binary"},
                                    "path": {"type": "string", "maxLength": 512},
                                },
                                # The file part's name stands in for an empty or
                                # missing path (imperal-sdk sends the path as both).
                                "required": ["file"],
                            }
                        }
                    },
                },
                "responses": _answers(201, FILE_INFO),
            }
        },
        "/v1/internal/storage/download": {
            "get": {
                "summary": "StorageClient.download",
                "parameters": [{**_query("path", FILE_PATH), "required": True}],
                "responses": {
                    **_answers(200, None),
                    "200": {
                        "description": "the file's bytes",
                        "content": {"*/*": {"schema": {"type": "string"}}},
                    },
                },
            }
        },
        "/v1/internal/storage/list": {
            "get": {
                "summary": "StorageClient.list",
                "parameters": [
                    _query("prefix", {"type": "string", "maxLength": 512}),
                    _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}),
                ],
                "responses": _answers(
                    200,
                    {
                        "type": "object",
                        "required": ["files", "has_more"],
                        "properties": {"files": {"type": "array", "items": FILE_INFO}},
                    },
                ),
            }
        },
        "/v1/internal/storage": {
            "delete": {
                "summary": "StorageClient.delete",
                "parameters": [{**_query("path", FILE_PATH), "required": True}],
                "responses": _answers(200, {"type": "object"}),
            }
        },
        # imperal-sdk's SecretClient (secrets/client.py). Only credentials bound to
        # a user reach a user's secrets: with this test's extension-wide token each
        # is a 403, which is what the description has to allow.
        "/v1/secrets/{app}": {
            "parameters": _path("app"),
            "get": {
                "summary": "SecretClient.list",
                "responses": _answers(200, {"type": "array"}, 409),
            },
        },
        "/v1/secrets/{app}/{name}": {
            "parameters": _path("app", "name"),
            "get": {
                "summary": "SecretClient.get",
                "responses": _answers(200, {"type": "object"}, 409),
            },
            "put": {
                "summary": "SecretClient.set",
                "requestBody": _body(
                    {"value": {"type": "string", "maxLength": 65536}},
                    required=["value"],
                ),
                "responses": _answers(200, {"type": "object"}, 409),
            },
            "delete": {
                "summary": "SecretClient.delete",
                "responses": _answers(200, {"type": "object"}, 409),
            },
        },
        "/v1/secrets/{app}/{name}/meta": {
            "parameters": _path("app", "name"),
            "get": {
                "summary": "SecretClient.is_set",
                "responses": _answers(200, {"type": "object"}, 409),
            },
        },
        # apps/runtime/worker/gateway.py: an isolated extension's workers, with a
        # runtime token (this test's service token is none: each is a 401).
        "/v1/runtime/claim": {
            "post": {
                "summary": "GatewayDispatch.claim",
                "requestBody": _body(
                    {"worker_id": {"type": "string"}, "wait": {"type": "number"}},
                    required=["worker_id"],
                ),
                "responses": {
                    **_answers(200, {"type": "object"}),
                    "204": {"description": "no call within the wait"},
                },
            },
        },
        "/v1/runtime/reply": {
            "post": {
                "summary": "GatewayDispatch.reply",
                "requestBody": _body(
                    {"worker_id": {"type": "string"}, "reply": {"type": "object"}},
                    required=["worker_id", "reply"],
                ),
                "responses": _answers(200, {"type": "object"}, 409),
            },
        },
        "/v1/ext/{app}/webhook/{path}": {
            "parameters": _path("app", "path"),
            "post": {
                "summary": "An @ext.webhook (none declared here: each is a 404)",
                "requestBody": _body({}, optional=True),
                "responses": _answers(200, {"type": "object"}, 429),
            },
        },
    },
}
