"""A fire's held notifications in a worker: content checked in the worker by the
platform's own rules, anything naming a user or extension by the gateway."""

import asyncio

import pytest

from apps.runtime.worker.errors import PayloadTooLarge
from apps.runtime.worker.fanout import LedgerNotifyClient, NoLedger


class HoldingLedger(NoLedger):
    """Holds every notification of ``user``; records what it was asked to check."""

    def __init__(self, user):
        self.user, self.checked, self.held = user, [], []

    def holds(self, user_id):
        return user_id == self.user

    async def check(self, payload, acting_user):
        self.checked.append((payload, acting_user))

    def hold(self, payload):
        self.held.append(payload)


def notify_of(ledger):
    client = LedgerNotifyClient(
        "http://gateway.test", auth_token="t", user_id="alice", extension_id="app"
    )
    client._ledger = ledger
    return client


def test_good_content_is_held_without_asking_the_gateway():
    ledger = HoldingLedger("alice")
    asyncio.run(notify_of(ledger)("hi", priority="high"))

    assert ledger.checked == []
    assert ledger.held == [
        {"user_id": "alice", "message": "hi", "extension_id": "app", "priority": "high"}
    ]


@pytest.mark.parametrize(
    ("fields", "error", "rule"),
    [
        ({"subject": "s" * 256}, PayloadTooLarge, "SUBJECT_MAX_CHARS"),
        ({"priority": "loud"}, ValueError, "priority must be one of"),
        ({"body": 7}, ValueError, "body must be a string"),
    ],
)
def test_bad_content_raises_where_it_is_sent_and_nothing_is_held(fields, error, rule):
    ledger = HoldingLedger("alice")
    with pytest.raises(error, match=rule):
        asyncio.run(notify_of(ledger)("hi", **fields))
    assert ledger.held == [] and ledger.checked == []


def test_a_notification_naming_a_user_is_checked_by_the_gateway_as_the_contexts():
    ledger = HoldingLedger("alice")
    asyncio.run(notify_of(ledger)("hi", user_id="bob"))

    assert [acting for _, acting in ledger.checked] == ["alice"]
    assert ledger.checked[0][0]["user_id"] == "bob"
