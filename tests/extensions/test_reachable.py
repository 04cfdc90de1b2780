"""The allow-list of what an extension may hold (apps.extensions.reachable)."""

import pytest
from imperal_sdk.types.models import Document
from imperal_sdk.types.pagination import Page

from apps.db import core
from apps.db.errors import DbProgrammingError
from apps.extensions import reachable
from apps.extensions.context import ScopedUserId
from apps.extensions.reachable import kind_of, type_name
from apps.extensions.registry import get_registry
from apps.store import models as store_models

OWN = ("tests.extensions.test_reachable",)


class OwnNote:
    pass


def own_function():
    return None


def test_a_pydantic_generic_is_named_by_its_origin():
    assert type_name(Page[Document]) == "imperal_sdk.types.pagination.Page"
    assert kind_of(Page[Document](data=[])) == reachable.OBJECT


def test_a_scoped_user_id_is_walked_as_a_context_not_taken_as_a_plain_str():
    assert kind_of("alice") == reachable.VALUE
    assert kind_of(ScopedUserId("alice", None)) == reachable.OBJECT


@pytest.mark.parametrize(
    "internal",
    [
        pytest.param(lambda: core.get_backend(), id="the ctx.db backend"),
        pytest.param(lambda: core.get_backend().deprovision, id="a backend method"),
        pytest.param(lambda: store_models.Document, id="a model class"),
        pytest.param(lambda: store_models.Document.objects, id="a manager"),
        pytest.param(lambda: get_registry(), id="the registry"),
        pytest.param(lambda: store_models, id="a module"),
        pytest.param(lambda: core.get_backend, id="a platform function"),
        pytest.param(lambda: len, id="a builtin function"),
    ],
)
def test_platform_internals_are_not_allowed(db, internal):
    assert kind_of(internal(), OWN) is None


def test_the_extensions_own_code_and_errors_are_allowed():
    assert kind_of(OwnNote(), OWN) == reachable.OBJECT
    assert kind_of(OwnNote, OWN) == reachable.CLASS
    assert kind_of(own_function, OWN) == reachable.METHOD
    assert kind_of(OwnNote()) is None  # not the extension's own without OWN
    assert kind_of(DbProgrammingError("no such table")) == reachable.ERROR
    assert kind_of(DbProgrammingError) == reachable.CLASS


def test_a_bound_method_is_allowed_exactly_when_its_object_is():
    doc = Document(id="d", collection="c", data={})
    assert kind_of(doc.get) == reachable.METHOD
    assert kind_of([].append) == reachable.METHOD
