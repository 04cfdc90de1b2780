"""The content rules (apps.notifications.rules) agree with the model they guard."""

import pytest

from apps.notifications import rules
from apps.notifications.models import Notification


def test_the_rules_priorities_are_the_models():
    assert rules.PRIORITIES == tuple(Notification.Priority.values)
    assert rules.DEFAULT_PRIORITY == Notification.Priority.NORMAL
    assert rules.IN_APP == Notification.Channel.IN_APP


def test_content_keeps_every_other_argument_as_extra():
    content = rules.checked_content("hi", {"priority": "high", "ref": 7})

    assert content == {
        "message": "hi",
        "channel": "in_app",
        "priority": "high",
        "subject": "",
        "body": "",
        "extra": {"ref": 7},
    }


@pytest.mark.parametrize(
    ("message", "fields", "error", "rule"),
    [
        ("", {}, ValueError, "non-empty string"),
        ("hi", {"priority": "loud"}, ValueError, "priority must be one of"),
        ("hi", {"subject": "s" * 256}, rules.NotifyTooLarge, "SUBJECT_MAX_CHARS"),
        ("hi", {"body": 3}, TypeError, "body must be a string"),
        ("hi", {"ref": object()}, TypeError, "must be JSON values"),
    ],
)
def test_bad_content_raises_naming_the_rule(message, fields, error, rule):
    with pytest.raises(error, match=rule):
        rules.checked_content(message, fields)
