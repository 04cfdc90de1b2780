"""ctx.storage under a files.bytes quota: refused at the limit and not before, no
byte nor row left by a refusal, exactly the limit under 8 concurrent uploaders,
room made by a replace, a delete or an erase, and a recount that matches."""

import threading

import pytest
from django.db import connection

from apps.files.core import Files, recount_file_bytes
from apps.quotas import counters
from apps.quotas.errors import QuotaExceeded

from .conftest import APP, objects, partition, run, storage_of, stored

pytestmark = pytest.mark.django_db(transaction=True)
WRITERS = 8


@pytest.fixture
def limit(settings):
    def set_limit(nbytes):
        settings.IMPERAL_QUOTAS = {APP: {"files.bytes": nbytes}}

    return set_limit


def held(user="alice"):
    return counters.usage("files.bytes", partition(user))


def test_an_upload_is_refused_at_the_limit_and_not_before(backend, alice, limit):
    limit(100)
    storage = storage_of()
    run(storage.upload("a.bin", b"a" * 60, "application/octet-stream"))
    run(storage.upload("b.bin", b"b" * 40, "application/octet-stream"))
    assert held() == 100  # exactly the limit passed
    before = (stored(), objects())

    with pytest.raises(QuotaExceeded) as refused:
        run(storage.upload("c.bin", b"c", "application/octet-stream"))

    assert refused.value.quota == {
        "kind": "files.bytes",
        "limit": 100,
        "usage": 100,
        "requested": 1,
        "window": "",
    }
    assert refused.value.status == 507
    assert (stored(), objects()) == before
    assert held() == 100


def test_a_replace_counts_only_its_growth(backend, alice, limit):
    limit(100)
    storage = storage_of()
    run(storage.upload("a.bin", b"a" * 90, "application/octet-stream"))
    run(storage.upload("a.bin", b"a" * 100, "application/octet-stream"))
    assert held() == 100
    run(storage.upload("a.bin", b"a" * 10, "application/octet-stream"))
    assert held() == 10
    before = (stored(), objects())

    with pytest.raises(QuotaExceeded):
        run(storage.upload("a.bin", b"a" * 101, "application/octet-stream"))

    assert (stored(), objects()) == before
    assert run(storage.download("a.bin")) == b"a" * 10


def test_a_delete_and_an_erase_give_the_bytes_back(backend, alice, bob, limit):
    limit(100)
    storage = storage_of()
    run(storage.upload("a.bin", b"a" * 70, "application/octet-stream"))
    run(storage.upload("b.bin", b"b" * 30, "application/octet-stream"))
    run(storage_of("bob").upload("b.bin", b"b" * 100, "application/octet-stream"))
    run(storage.delete("a.bin"))
    assert held() == 30
    run(storage.upload("c.bin", b"c" * 70, "application/octet-stream"))

    Files().erase(partition())

    assert held() == 0
    assert held("bob") == 100  # another partition's bytes are its own


def test_concurrent_uploads_let_exactly_the_limit_pass(backend, alice, limit):
    limit(100)
    files, passed, refused, other = Files(), [], [], []
    barrier = threading.Barrier(WRITERS)

    def upload(n):
        try:
            barrier.wait()
            files.upload(partition(), f"f{n}.bin", b"x" * 30, "text/plain")
            passed.append(n)
        except QuotaExceeded:
            refused.append(n)
        except Exception as exc:  # collected and asserted below
            other.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=upload, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert other == []
    assert (len(passed), len(refused)) == (3, 5)
    assert held() == 90
    assert len(stored()) == 3
    assert len(objects()) == 3  # a refused upload leaves no orphan bytes


def test_the_recount_matches_what_the_files_hold(backend, alice, bob, limit):
    limit(1000)
    run(storage_of().upload("a.bin", b"a" * 70, "application/octet-stream"))
    run(storage_of("bob").upload("a.bin", b"a" * 5, "application/octet-stream"))

    kind, amounts = recount_file_bytes()

    assert kind == "files.bytes"
    assert amounts == {partition(): 70, partition("bob"): 5}
