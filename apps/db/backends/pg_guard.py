"""What an extension's SQL may not do on PostgreSQL, decided before it runs.

PostgreSQL's own parser (libpg_query, through pglast) reads every statement,
so comments, quoting, Unicode escapes and schema-qualified names show the
statement as the server will see it. Refused, anywhere in the text (views,
rules, policies, function bodies in SQL, and PL/pgSQL bodies of DO blocks and
functions, whose static SQL is parsed too):

* role changes: CREATE/ALTER/DROP ROLE (USER, GROUP), GRANT/REVOKE of roles,
  REASSIGN OWNED, and set_config() of role or session_authorization;
* large objects: every large-object function and statement (they are stored
  outside the extension's schema, where nothing bounds them);
* LISTEN and NOTIFY, and pg_notify() (channels every role of the database
  shares);
* memory settings above IMPERAL_DB["MEMORY_LIMIT"] (SET, SET LOCAL, a
  function's SET clause, set_config()).

Not seen here: SQL built at run time (EXECUTE of a computed string in
PL/pgSQL). What that may do is covered where the platform connects
(apps.db.backends.pg_connection): role changes are noticed and undone, large
objects removed when the connection is reset.
"""

import json
import re
from dataclasses import dataclass
from functools import lru_cache

from pglast import parse_plpgsql
from pglast.parser import ParseError, parse_sql_json

ROLE_RULE = (
    "the extension's role, its password and its settings belong to the platform "
    "(rule: no role changes through ctx.db)"
)
LARGE_OBJECT_RULE = (
    "large objects are stored outside the extension's schema, where nothing bounds "
    "them; keep bytes in a bytea column (rule: no large objects through ctx.db)"
)
NOTIFY_RULE = (
    "notification channels are shared by every role of the database "
    "(rule: no LISTEN/NOTIFY through ctx.db)"
)
MEMORY_RULE = "rule: memory settings at most IMPERAL_DB['MEMORY_LIMIT'] through ctx.db"

#: PostgreSQL's large-object functions; their names are reserved through ctx.db.
LARGE_OBJECT_FUNCTIONS = frozenset(
    """
    lo_close lo_creat lo_create lo_export lo_from_bytea lo_get lo_import lo_lseek
    lo_lseek64 lo_open lo_put lo_tell lo_tell64 lo_truncate lo_truncate64
    lo_unlink loread lowrite
    """.split()
)
#: Settings bounded by MEMORY_LIMIT, with the bytes of one unit of a bare number.
MEMORY_SETTINGS = {
    "work_mem": 1024,
    "maintenance_work_mem": 1024,
    "logical_decoding_work_mem": 1024,
    "temp_buffers": 8192,
}
#: hash_mem_multiplier multiplies work_mem; at most PostgreSQL's own default.
HASH_MEM_MULTIPLIER_LIMIT = 2.0
_MEMORY_UNITS = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_NUMBER = re.compile(r"\s*([0-9]+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]*)\s*")
_ROLE_STATEMENTS = {
    "CreateRoleStmt": "CREATE ROLE",
    "AlterRoleStmt": "ALTER ROLE",
    "AlterRoleSetStmt": "ALTER ROLE ... SET",
    "DropRoleStmt": "DROP ROLE",
    "GrantRoleStmt": "GRANT or REVOKE of a role",
    "ReassignOwnedStmt": "REASSIGN OWNED",
}
_ROLE_SETTINGS = frozenset({"role", "session_authorization"})
# Statements that refuse to run in a transaction block or a pipeline; none runs
# code an extension wrote in a volatile function.
_STANDALONE = frozenset(
    {
        "VacuumStmt",
        "ClusterStmt",
        "ReindexStmt",
        "CreatedbStmt",
        "DropdbStmt",
        "CreateTableSpaceStmt",
        "DropTableSpaceStmt",
        "AlterSystemStmt",
    }
)
_KEEPS_BLOCK = frozenset(
    {"TRANS_STMT_SAVEPOINT", "TRANS_STMT_RELEASE", "TRANS_STMT_ROLLBACK_TO"}
)
_NESTING_MAX = 8  # DO blocks inside EXECUTE '...' inside DO blocks, ...
_CACHE_SIZE = 1024
_CACHED_TEXT_MAX = 10_000  # characters


@dataclass(frozen=True)
class Analysis:
    """What the parser shows of one SQL text.

    ``refusal`` says why the text must not run ("" when it may).
    ``parsed`` is False when pglast could not parse it (the server reports the
    error itself). ``statements`` counts its statements. ``standalone`` means
    it cannot run inside a pipeline; ``may_commit`` that it is a DO or CALL,
    which may commit part of its work; ``ends_block`` that it begins or ends a
    transaction block.
    """

    refusal: str = ""
    parsed: bool = True
    statements: int = 0
    standalone: bool = False
    may_commit: bool = False
    ends_block: bool = False


def analyze(text, memory_limit):
    """Return the Analysis of the SQL ``text`` under ``memory_limit`` bytes."""
    if len(text) > _CACHED_TEXT_MAX:  # a cache of big texts would hold them all
        return _analyze(text, memory_limit)
    return _cached_analyze(text, memory_limit)


def _analyze(text, memory_limit):
    try:
        tree = json.loads(parse_sql_json(text))
    except ParseError:
        return Analysis(parsed=False)
    statements = [entry["stmt"] for entry in tree.get("stmts", ())]
    kinds = [next(iter(statement)) for statement in statements]
    return Analysis(
        refusal=_refusal(text, tree, memory_limit, 0),
        statements=len(statements),
        standalone=len(kinds) == 1 and _standalone(statements[0]),
        may_commit=any(kind in ("DoStmt", "CallStmt") for kind in kinds),
        ends_block=any(
            kind == "TransactionStmt"
            and statement[kind].get("kind") not in _KEEPS_BLOCK
            for kind, statement in zip(kinds, statements, strict=True)
        ),
    )


_cached_analyze = lru_cache(maxsize=_CACHE_SIZE)(_analyze)


def parse_memory(value, unit_bytes=1):
    """Return the bytes ``value`` stands for (``'64MB'``, ``'512 kB'``, ``4096``).

    A bare number counts units of ``unit_bytes``. Raises ValueError for any
    other form (PostgreSQL also reads hexadecimal and octal: those are refused).
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) * unit_bytes
    match = _NUMBER.fullmatch(str(value))
    if match is None or (match.group(2) and match.group(2) not in _MEMORY_UNITS):
        raise ValueError(
            f"{value!r:.60} is not a number of bytes with a unit of "
            f"{', '.join(_MEMORY_UNITS)}"
        )
    unit = _MEMORY_UNITS[match.group(2)] if match.group(2) else unit_bytes
    return float(match.group(1)) * unit


def _standalone(statement):
    kind, fields = next(iter(statement.items()))
    if kind == "IndexStmt" or kind == "DropStmt":
        return bool(fields.get("concurrent"))
    if kind == "DiscardStmt":
        return fields.get("target") == "DISCARD_ALL"
    return kind in _STANDALONE


def _refusal(text, tree, memory_limit, depth):
    """Return why the parse ``tree`` of ``text`` is refused, or ""."""
    for kind, fields in _nodes(tree):
        refusal = _node_refusal(kind, fields, memory_limit)
        if not refusal and depth < _NESTING_MAX:
            refusal = _body_refusal(text, kind, fields, memory_limit, depth)
        if refusal:
            return refusal
    return ""


def _nodes(tree):
    """Yield ``(node type, fields)`` for every parse node in ``tree``."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(value, dict):
                    if key[:1].isupper():
                        yield key, value
                    stack.append(value)
                elif isinstance(value, list):
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def _node_refusal(kind, fields, memory_limit):
    if kind in _ROLE_STATEMENTS:
        return _denied(_ROLE_STATEMENTS[kind], ROLE_RULE)
    if kind == "RenameStmt" and fields.get("renameType") == "OBJECT_ROLE":
        return _denied("ALTER ROLE ... RENAME", ROLE_RULE)
    if kind == "String" and fields.get("sval") in LARGE_OBJECT_FUNCTIONS:
        return _denied(f"{fields['sval']}()", LARGE_OBJECT_RULE)
    if kind == "String" and fields.get("sval") == "pg_notify":
        return _denied("pg_notify()", NOTIFY_RULE)
    if "OBJECT_LARGEOBJECT" in (fields.get("objtype"), fields.get("objectType")):
        return _denied("a large-object statement", LARGE_OBJECT_RULE)
    if kind in ("NotifyStmt", "ListenStmt"):
        return _denied(kind[: -len("Stmt")].upper(), NOTIFY_RULE)
    if kind == "VariableSetStmt" and fields.get("kind") == "VAR_SET_VALUE":
        return _setting_refusal(
            fields.get("name"), fields.get("args", [None])[0], memory_limit
        )
    if kind == "FuncCall" and _builtin(fields.get("funcname", [])) == "set_config":
        return _set_config_refusal(fields.get("args", []), memory_limit)
    return ""


def _denied(what, rule):
    return f"permission denied: {what} is not allowed through ctx.db; {rule}"


def _builtin(funcname):
    """Return the function's name when it resolves to pg_catalog's, else ""."""
    names = [part.get("String", {}).get("sval", "") for part in funcname]
    if len(names) == 1 or (len(names) > 1 and names[-2] == "pg_catalog"):
        return names[-1]
    return ""


def _set_config_refusal(args, memory_limit):
    name = _literal(args[0]) if args else None
    if not isinstance(name, str):
        return (
            "permission denied: set_config() through ctx.db needs the setting's "
            "name as a literal, so the platform can check it"
        )
    if name.lower() in _ROLE_SETTINGS:
        return _denied(f"set_config({name!r}, ...)", ROLE_RULE)
    return _setting_refusal(name, args[1] if len(args) > 1 else None, memory_limit)


def _setting_refusal(name, value_node, memory_limit):
    name = (name or "").lower()
    if name not in MEMORY_SETTINGS and name != "hash_mem_multiplier":
        return ""
    value = _literal(value_node)
    if name == "hash_mem_multiplier":
        limit, shown_limit, unit = HASH_MEM_MULTIPLIER_LIMIT, "2", 1
    else:
        limit, shown_limit, unit = (
            memory_limit,
            _bytes(memory_limit),
            MEMORY_SETTINGS[name],
        )
    try:
        amount = parse_memory(value, unit) if value is not None else None
    except ValueError:
        amount = None
    if amount is None:
        return (
            f"permission denied: {name} through ctx.db needs a literal value like "
            f"'{_bytes(memory_limit)}', so the platform can check it ({MEMORY_RULE})"
        )
    if amount > limit:
        return (
            f"permission denied: {name} = {value!r:.40} is above {shown_limit} "
            f"({MEMORY_RULE})"
        )
    return ""


def _literal(node):
    """Return the constant ``node`` holds (through casts), else None."""
    while isinstance(node, dict) and "TypeCast" in node:
        node = node["TypeCast"].get("arg")
    constant = node.get("A_Const") if isinstance(node, dict) else None
    if not constant or constant.get("isnull"):
        return None
    if "sval" in constant:
        return constant["sval"].get("sval", "")
    if "ival" in constant:
        return constant["ival"].get("ival", 0)
    if "fval" in constant:
        return constant["fval"].get("fval", "0")
    return None


def _bytes(amount):
    for unit in ("TB", "GB", "MB", "kB"):
        if amount >= _MEMORY_UNITS[unit] and amount % _MEMORY_UNITS[unit] == 0:
            return f"{int(amount // _MEMORY_UNITS[unit])}{unit}"
    return f"{int(amount)}B"


# --- bodies: SQL functions, DO blocks and PL/pgSQL functions --------------------


def _body_refusal(text, kind, fields, memory_limit, depth):
    if kind not in ("DoStmt", "CreateFunctionStmt"):
        return ""
    options = {
        option["DefElem"]["defname"]: option["DefElem"].get("arg")
        for option in fields.get("args" if kind == "DoStmt" else "options", [])
        if "DefElem" in option
    }
    language = (options.get("language") or {}).get("String", {}).get("sval")
    body = _strings(options.get("as"))
    if not body:
        return ""
    if kind == "CreateFunctionStmt" and language == "sql":
        return _text_refusal(body[0], memory_limit, depth + 1)
    if language in (None, "plpgsql"):
        # pglast parses every CREATE FUNCTION of the text at once, hence ``text``.
        statement = _dollar_quoted("DO ", body[0]) if kind == "DoStmt" else text
        return _plpgsql_refusal(statement, memory_limit, depth + 1)
    return ""


def _strings(arg):
    if isinstance(arg, dict) and "String" in arg:
        return [arg["String"].get("sval", "")]
    if isinstance(arg, dict) and "List" in arg:
        return [part.get("String", {}).get("sval", "") for part in arg["List"]["items"]]
    return []


def _text_refusal(text, memory_limit, depth):
    try:
        tree = json.loads(parse_sql_json(text))
    except ParseError:
        return ""
    return _refusal(text, tree, memory_limit, depth)


def _dollar_quoted(prefix, body):
    tag = "imperal"
    while f"${tag}$" in body:
        tag += "_"
    return f"{prefix}${tag}${body}${tag}$"


def _plpgsql_refusal(statement, memory_limit, depth):
    try:
        tree = parse_plpgsql(statement)
    except (ParseError, ValueError):
        return ""
    for kind, fields in _nodes(tree):
        if kind != "PLpgSQL_expr" or not isinstance(fields.get("query"), str):
            continue
        query = fields["query"]
        if fields.get("parseMode", 0) != 0:  # an expression, or "x := expression"
            query = "SELECT " + query.split(":=", 1)[-1]
        refusal = _text_refusal(query, memory_limit, depth) or _text_refusal(
            _constant_string(query), memory_limit, depth
        )
        if refusal:
            return refusal
    return ""


def _constant_string(query):
    """Return the string ``SELECT 'literal'`` selects (EXECUTE 'literal'), or ""."""
    try:
        tree = json.loads(parse_sql_json(query))
        (entry,) = tree["stmts"]
        (target,) = entry["stmt"]["SelectStmt"]["targetList"]
    except (ParseError, KeyError, ValueError):
        return ""
    value = _literal(target["ResTarget"].get("val"))
    return value if isinstance(value, str) else ""
