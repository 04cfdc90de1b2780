"""Empty the test database after a transactional test, then put back what migrate left."""

import os

from django.core.management import call_command
from django.db import connections, transaction

# IMPERAL_TEST_FULL_FLUSH=1 sends post_migrate after every flush, as Django does.
FULL_FLUSH = os.environ.get("IMPERAL_TEST_FULL_FLUSH") == "1"


class TableRows:
    """The rows of every table Django's flush empties, copied from one database.

    On PostgreSQL each table's rows are kept as one JSON array, so every column
    type comes back through PostgreSQL's own casts; SQLite keeps its values as
    they are. Rows go back inside one transaction, with their own primary keys:
    foreign keys are checked at its commit, and the sequences are already past
    those keys.
    """

    def __init__(self, alias, vendor):
        # The alias, not the connection object: a later flush must use the
        # connection of the thread and handler it runs on.
        self.alias = alias
        self.vendor = vendor
        self.tables = {}

    @classmethod
    def take(cls, connection):
        """Return the rows of ``connection``'s tables that hold any."""
        rows = cls(connection.alias, connection.vendor)
        names = connection.introspection.django_table_names(
            only_existing=True, include_views=False
        )
        with connection.cursor() as cursor:
            for table in sorted(names):
                copied = rows._copy(cursor, connection.ops.quote_name(table))
                if copied is not None:
                    rows.tables[table] = copied
        return rows

    def _copy(self, cursor, table):
        if self.vendor == "postgresql":
            cursor.execute(f"SELECT json_agg(t)::text FROM {table} AS t")
            return cursor.fetchone()[0]
        cursor.execute(f"SELECT * FROM {table}")
        values = cursor.fetchall()
        if not values:
            return None
        return [column[0] for column in cursor.description], values

    def restore(self):
        """Insert the copied rows into the (emptied) tables again."""
        connection = connections[self.alias]
        quote = connection.ops.quote_name
        with (
            transaction.atomic(using=self.alias),
            connection.cursor() as cursor,
        ):
            for table, copied in self.tables.items():
                if self.vendor == "postgresql":
                    cursor.execute(
                        f"INSERT INTO {quote(table)} SELECT * FROM "
                        f"json_populate_recordset(NULL::{quote(table)}, %s::json)",
                        [copied],
                    )
                    continue
                columns, values = copied
                cursor.executemany(
                    f"INSERT INTO {quote(table)} "
                    f"({', '.join(quote(c) for c in columns)}) "
                    f"VALUES ({', '.join(['%s'] * len(columns))})",
                    values,
                )


class Flusher:
    """Flush databases as TransactionTestCase does, minus the repeated post_migrate.

    A flush empties every table, then Django sends post_migrate, whose receivers
    write the content types, permissions, the bundled extensions' rows and beat
    entries again: most of a second each time, after every transactional test.
    Those rows are the same each time, so the first flush of a database runs
    them and keeps what they wrote; later flushes insert that copy instead.
    """

    def __init__(self):
        self.after_migrate = {}

    def flush(self, alias):
        """Empty the database ``alias`` and leave it as migrate left it."""
        kept = None if FULL_FLUSH else self.after_migrate.get(alias)
        if kept is None:
            self._flush_as_django(alias, post_migrate=True)
            if not FULL_FLUSH:
                self.after_migrate[alias] = TableRows.take(connections[alias])
        elif kept.vendor == "postgresql":
            with transaction.atomic(using=alias):
                _empty_postgresql(connections[alias])
                kept.restore()
        else:
            self._flush_as_django(alias, post_migrate=False)
            kept.restore()

    @staticmethod
    def _flush_as_django(alias, post_migrate):
        call_command(
            "flush",
            verbosity=0,
            interactive=False,
            database=alias,
            reset_sequences=False,
            allow_cascade=False,
            inhibit_post_migrate=not post_migrate,
        )

    def fixture_teardown(self, original):
        """Return a TransactionTestCase._fixture_teardown that flushes through self.

        A test case naming ``available_apps`` or asking for a serialized
        rollback flushes as Django does (``original``).
        """
        flusher = self

        def _fixture_teardown(test_case):
            if test_case.available_apps is not None or test_case.serialized_rollback:
                return original(test_case)
            for alias in test_case._databases_names(include_mirrors=False):
                flusher.flush(alias)

        return _fixture_teardown


def _empty_postgresql(connection):
    """Empty every table flush empties, truncating only those that hold rows.

    Truncating all of them (what flush does) costs a new file per table and
    index, most of a flush's time though nearly all are empty. The tables are
    locked first, as TRUNCATE would lock them, so no row can be added between
    the look and the truncation; CASCADE empties the tables referring to those.
    """
    tables = [
        connection.ops.quote_name(table)
        for table in connection.introspection.django_table_names(
            only_existing=True, include_views=False
        )
    ]
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(
            " UNION ALL ".join(
                f"SELECT {index} FROM (SELECT 1 FROM {table} LIMIT 1) AS one"
                for index, table in enumerate(tables)
            )
        )
        filled = [tables[index] for (index,) in cursor.fetchall()]
        if filled:
            cursor.execute(f"TRUNCATE {', '.join(filled)} CASCADE")
