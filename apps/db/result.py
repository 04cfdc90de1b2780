"""The result of one ctx.db statement: rows as mappings, read after the session ends."""


class Result:
    """Every row of one statement, fetched at once, plus ``rowcount``.

    Iterating yields one ``dict`` per row (``dict(r)`` and ``r["col"]`` work);
    when two columns share a name the later one wins, as with psycopg's
    ``dict_row``. A statement that returns no rows (INSERT without RETURNING)
    has ``columns == ()`` and no rows. ``rowcount`` is what the database
    reported: rows changed, or rows returned by a SELECT (-1 when unknown).
    """

    __slots__ = ("columns", "rowcount", "_rows", "_scalar")

    def __init__(self, columns, tuples, rowcount):
        self.columns = tuple(columns)
        self.rowcount = rowcount
        self._rows = [dict(zip(self.columns, row, strict=True)) for row in tuples]
        self._scalar = tuples[0][0] if self._rows and self.columns else None

    def __iter__(self):
        return iter(self._rows)

    def __len__(self):
        return len(self._rows)

    def all(self):
        """Return the list of rows."""
        return list(self._rows)

    def first(self):
        """Return the first row, or None when there is none."""
        return self._rows[0] if self._rows else None

    def scalar(self):
        """Return the first column of the first row, or None when there is no row."""
        return self._scalar

    def __repr__(self):
        return f"<Result {len(self._rows)} row(s), rowcount={self.rowcount}>"
