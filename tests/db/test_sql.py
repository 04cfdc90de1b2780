""":name binding: rewritten by a tokenizer, so literals, comments and casts survive."""

import pytest

from apps.db.errors import DbParameterError, DbPermissionError
from apps.db.sql import POSTGRES_STYLE, SQLITE_STYLE, compile_sql


def pg(sql):
    return compile_sql(sql, POSTGRES_STYLE)


def test_it_keeps_casts_after_a_parameter():
    compiled = pg("SELECT :x::int, y::text FROM t")
    assert compiled.text == "SELECT $1::int, y::text FROM t"
    assert compiled.names == ("x",)


def test_it_leaves_colons_in_string_literals_and_quoted_names_alone():
    compiled = pg("SELECT ':a', '12:30', E'it''s :b', \"col:c\" FROM t WHERE d = :d")
    assert compiled.text == (
        "SELECT ':a', '12:30', E'it''s :b', \"col:c\" FROM t WHERE d = $1"
    )
    assert compiled.names == ("d",)


def test_it_leaves_comments_and_dollar_quoted_bodies_alone():
    compiled = pg("/* :a */ SELECT 1 -- :b\n, $$ :c $$, $f$ :d $f$, :e")
    assert compiled.text == "/* :a */ SELECT 1 -- :b\n, $$ :c $$, $f$ :d $f$, $1"
    assert compiled.names == ("e",)


def test_a_name_used_twice_binds_one_placeholder():
    compiled = compile_sql("SELECT :a, :b, :a", SQLITE_STYLE)
    assert compiled.text == "SELECT ?1, ?2, ?1"
    assert compiled.bind({"a": 1, "b": 2, "unused": 3}) == [1, 2]


def test_percent_signs_and_question_marks_are_not_placeholders():
    compiled = pg("SELECT data ? 'k', name LIKE 'a%' FROM t WHERE n = :n")
    assert compiled.text == "SELECT data ? 'k', name LIKE 'a%' FROM t WHERE n = $1"


def test_a_missing_name_is_an_error_naming_it():
    with pytest.raises(DbParameterError, match=r":month.*params given: uid, year"):
        pg("SELECT * FROM t WHERE u = :uid AND y = :year AND m = :month").bind(
            {"uid": "alice", "year": 2026}
        )


def test_params_must_be_a_mapping():
    with pytest.raises(DbParameterError, match="mapping"):
        pg("SELECT :a").bind(["x"])


def test_no_params_means_an_empty_mapping():
    assert pg("SELECT 1").bind(None) == []


def test_sql_must_be_a_string():
    with pytest.raises(TypeError, match="sql must be a string"):
        pg(b"SELECT 1")


@pytest.mark.parametrize(
    "sql",
    [
        "SET ROLE postgres",
        "set local role postgres",
        "SET SESSION ROLE x",
        "RESET ROLE",
        "SET SESSION AUTHORIZATION postgres",
        "RESET SESSION AUTHORIZATION",
        "SELECT 1; /* hidden */ SET ROLE postgres",
    ],
)
def test_statements_that_change_identity_are_refused_before_running(sql):
    with pytest.raises(DbPermissionError, match="not allowed through ctx.db"):
        pg(sql).bind({})


def test_set_role_inside_a_literal_is_not_a_statement():
    assert pg("SELECT 'SET ROLE postgres'").bind({}) == []
