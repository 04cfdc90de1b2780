"""What the gateway remembers between requests of one process: call tokens it
verified (until their expiry) and, for a second, whether an extension is
disabled and a user's tenant."""

import time

import pytest
from django.core.cache import cache

from apps.accounts.models import User
from apps.extensions.models import Extension
from apps.gateway import calltokens
from apps.gateway.lookups import RecentAnswers, extension_disabled, tenant_of

from .conftest import APP, STORE_PATH, call_token, error_of


def replay_key(raw):
    return f"imperal:calltoken:jti:{calltokens.verify(raw).jti}"


def test_a_verified_token_is_answered_again_without_the_replay_store(db):
    raw = call_token(user_id="alice")
    key = replay_key(raw)
    assert cache.get(key) is not None
    cache.delete(key)
    claims = calltokens.verify(raw)
    assert (claims.app_id, claims.user_id) == (APP, "alice")
    assert cache.get(key) is None  # answered from memory: nothing recorded


def test_a_remembered_token_is_refused_once_it_expires(db):
    raw = call_token(user_id="alice", ttl=1)
    calltokens.verify(raw)
    time.sleep(1.1)
    with pytest.raises(calltokens.CallTokenRejected, match="expired"):
        calltokens.verify(raw)


def test_a_remembered_token_is_refused_when_its_secret_is_retired(db, settings):
    raw = call_token(user_id="alice")
    calltokens.verify(raw)
    settings.IMPERAL_CALL_TOKEN_SECRETS = ["a-new-secret-only"]
    with pytest.raises(calltokens.CallTokenRejected, match="signature"):
        calltokens.verify(raw)


def test_a_remembered_token_is_held_to_a_lowered_lifetime_limit(db, settings):
    raw = call_token(user_id="alice", ttl=600)
    calltokens.verify(raw)
    settings.IMPERAL_CALL_TOKEN_MAX_LIFETIME = 60
    with pytest.raises(calltokens.CallTokenRejected, match="over the limit of 60"):
        calltokens.verify(raw)


def test_a_refused_token_is_not_remembered(db):
    raw = call_token(user_id="alice", secret=b"not-the-platforms")
    for _ in range(2):
        with pytest.raises(calltokens.CallTokenRejected, match="signature"):
            calltokens.verify(raw)


def test_the_token_memory_forgets_the_oldest_past_its_size(db):
    memory = calltokens.VerifiedTokens()
    memory.size = 2
    raws = [call_token(user_id=user) for user in ("alice", "bob", "carol")]
    keys = tuple(calltokens.call_token_secrets())
    now = int(time.time())
    for raw in raws:
        memory.add(raw, keys, calltokens.verify(raw))
    assert memory.get(raws[0], keys, now) is None
    assert memory.get(raws[2], keys, now).user_id == "carol"


def test_an_extension_disabled_by_an_operator_is_refused_at_once(gateway, registry):
    raw = call_token(user_id="alice")
    body = {"collection": "notes", "data": {"x": 1}, "user_id": "alice"}
    row = Extension.objects.create(app_id=APP, enabled=True)
    assert gateway.post(STORE_PATH, body, call=raw).status_code == 201
    row.enabled = False
    row.save()
    response = gateway.post(STORE_PATH, body, call=raw)
    assert response.status_code == 409
    assert error_of(response)["code"] == "extension_disabled"


def test_a_users_new_tenant_is_seen_at_once(db):
    user = User.objects.create(imperal_id="dana", tenant_id="acme")
    assert tenant_of("dana") == "acme"
    user.tenant_id = "globex"
    user.save()
    assert tenant_of("dana") == "globex"


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_a_change_no_signal_announces_is_seen_after_the_ttl(db, registry):
    Extension.objects.create(app_id=APP, enabled=True)
    remembered = RecentAnswers(extension_disabled.lookup)
    remembered.clock = Clock()
    assert remembered(APP) is False
    Extension.objects.filter(app_id=APP).update(enabled=False)  # sends no signal
    remembered.clock.now += remembered.ttl / 2
    assert remembered(APP) is False
    remembered.clock.now += remembered.ttl
    assert remembered(APP) is True
