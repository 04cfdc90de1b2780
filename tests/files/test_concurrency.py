"""Concurrent uploads to one path: one row, one object, the bytes of one of them — no
orphan left in the storage, no writer failing."""

import threading

import pytest
from django.db import connection

from apps.files.core import Files

from .conftest import objects, partition, stored

pytestmark = pytest.mark.django_db(transaction=True)
WRITERS = 8


def test_eight_writers_to_one_path_leave_one_file(backend, alice):
    files, errors = Files(), []
    barrier = threading.Barrier(WRITERS)

    def write(n):
        try:
            barrier.wait()
            files.upload(
                partition(), "shared.txt", f"writer {n}".encode(), "text/plain"
            )
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    (row,) = stored()
    assert objects() == [row[5]]
    assert files.read(partition(), "shared.txt").startswith(b"writer ")
