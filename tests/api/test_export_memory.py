"""An export of 100,000 documents streams: the process's peak RSS grows under 50 MB.

Measured on this process, which is the server here: Django's test client runs
the WSGI handler, the view and its streaming generator in it. The kernel's
high-water mark of resident memory (VmHWM in /proc/self/status) is reset
just before the export (``echo 5 > /proc/self/clear_refs``), so the peak read
after it is the peak of the export alone, C allocations of the database
drivers included — not only Python objects, as tracemalloc would see. The
documents total over 40 MB of JSON, so an export that held them (or their
rows) in memory would fail the bound; the test reads the stream and keeps
only counts.
"""

import gc
from pathlib import Path

import pytest
from django.db import connection

from .conftest import Api, token_for

pytestmark = [pytest.mark.django_db, pytest.mark.slow]
DOCUMENTS = 100_000
PADDING = 400  # characters of text per document: ~430 bytes of JSON each
GROWTH_MAX_BYTES = 50 * 1024 * 1024

COLUMNS = (
    "tenant_id, app_id, user_id, collection, doc_id, data, created_at, updated_at, etag"
)
INSERT_POSTGRESQL = f"""INSERT INTO store_document ({COLUMNS})
SELECT 'default', 'api-probe', 'alice', 'bulk', lpad(i::text, 8, '0'),
    jsonb_build_object('n', i, 'text', repeat('x', {PADDING})), now(), now(), md5(i::text)
FROM generate_series(1, %s) AS i"""
INSERT_SQLITE = f"""WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s)
INSERT INTO store_document ({COLUMNS})
SELECT 'default', 'api-probe', 'alice', 'bulk', printf('%%08d', i),
    json_object('n', i, 'text', replace(hex(zeroblob({PADDING // 2})), '0', 'x')),
    strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now'), strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now'),
    lower(hex(randomblob(16)))
FROM n"""


def status_kib(field):
    """Return a memory field of /proc/self/status (VmRSS, VmHWM) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/self/status")


def reset_peak():
    Path("/proc/self/clear_refs").write_text("5")


def test_an_export_of_100k_documents_streams_in_flat_memory(alice):
    sql = INSERT_POSTGRESQL if connection.vendor == "postgresql" else INSERT_SQLITE
    with connection.cursor() as cursor:
        cursor.execute(sql, [DOCUMENTS])
    api = Api(token_for(alice))
    gc.collect()
    reset_peak()
    before = status_kib("VmRSS")
    assert status_kib("VmHWM") <= before + 4 * 1024 * 1024  # the reset took

    response = api.get("/api/v1/me/data/export?extension=api-probe")
    assert response.status_code == 200 and response.streaming
    documents, size, tail = 0, 0, b""
    for chunk in response.streaming_content:
        documents += chunk.count(b'{"app_id": ')
        size += len(chunk)
        tail = chunk[-64:]

    growth = status_kib("VmHWM") - before
    print(
        f"export: {documents} documents, {size / 2**20:.1f} MiB streamed, "
        f"peak RSS growth {growth / 2**20:.1f} MiB"
    )
    assert documents == DOCUMENTS
    assert tail.endswith(f'"count": {DOCUMENTS}}}\n'.encode())
    assert size > 40 * 1024 * 1024
    assert growth < GROWTH_MAX_BYTES
