"""The statistics triggers as migrations 0003 and 0005 installed them (before bytes).

Frozen here so those migrations keep running the SQL of their time;
apps.store.stats holds the current triggers (installed by migration 0008).
"""

PARTITIONS = "store_partition_stats"
COLLECTIONS = "store_collection_stats"
_PKEY = "tenant_id = {r}.tenant_id AND app_id = {r}.app_id AND user_id = {r}.user_id"
_CKEY = _PKEY + " AND collection = {r}.collection"

# Statement-level triggers over the statement's transition table: a write adds
# one aggregated upsert per partition and collection, whatever its row count.
# Row-level triggers would update one stats row once per document, and a bulk
# INSERT of 100,000 documents into one partition then stalls on the row's
# ever-longer version chain. Partition rows are locked before collection rows,
# in key order, so concurrent writes and an erase of one partition cannot deadlock.
_P_BY = "tenant_id, app_id, user_id"
_C_BY = _P_BY + ", collection"
_PJOIN = "p.tenant_id = d.tenant_id AND p.app_id = d.app_id AND p.user_id = d.user_id"
_CJOIN = _PJOIN.replace("p.", "c.") + " AND c.collection = d.collection"
POSTGRESQL_TRIGGERS = f"""
CREATE OR REPLACE FUNCTION store_stats_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {PARTITIONS} AS p ({_P_BY}, documents, collections, last_write)
    SELECT {_P_BY}, count(*), 0, max(updated_at) FROM new_docs
    GROUP BY {_P_BY} ORDER BY {_P_BY}
    ON CONFLICT (tenant_id, app_id, user_id) DO UPDATE
        SET documents = p.documents + EXCLUDED.documents,
            last_write = GREATEST(p.last_write, EXCLUDED.last_write);
    WITH added AS (
        INSERT INTO {COLLECTIONS} AS c ({_C_BY}, documents)
        SELECT {_C_BY}, count(*) FROM new_docs GROUP BY {_C_BY} ORDER BY {_C_BY}
        ON CONFLICT (tenant_id, app_id, user_id, collection) DO UPDATE
            SET documents = c.documents + EXCLUDED.documents
        -- xmax is 0 on a row the upsert inserted: a collection new to its user.
        RETURNING {_P_BY}, (xmax = 0) AS created
    ), d AS (
        SELECT {_P_BY}, count(*) AS n FROM added WHERE created GROUP BY {_P_BY}
    )
    UPDATE {PARTITIONS} AS p SET collections = p.collections + d.n FROM d
    WHERE {_PJOIN};
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION store_stats_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {PARTITIONS} AS p SET documents = p.documents - d.n
    FROM (SELECT {_P_BY}, count(*) AS n FROM old_docs GROUP BY {_P_BY}) AS d
    WHERE {_PJOIN};
    WITH taken AS (
        UPDATE {COLLECTIONS} AS c SET documents = c.documents - d.n
        FROM (SELECT {_C_BY}, count(*) AS n FROM old_docs GROUP BY {_C_BY}) AS d
        WHERE {_CJOIN}
        RETURNING c.tenant_id, c.app_id, c.user_id, c.documents
    ), d AS (
        SELECT {_P_BY}, count(*) AS n FROM taken WHERE documents <= 0
        GROUP BY {_P_BY}
    )
    UPDATE {PARTITIONS} AS p SET collections = p.collections - d.n FROM d
    WHERE {_PJOIN};
    DELETE FROM {COLLECTIONS} AS c USING (SELECT DISTINCT {_C_BY} FROM old_docs) AS d
    WHERE {_CJOIN} AND c.documents <= 0;
    DELETE FROM {PARTITIONS} AS p USING (SELECT DISTINCT {_P_BY} FROM old_docs) AS d
    WHERE {_PJOIN} AND p.documents <= 0;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION store_stats_update() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE {PARTITIONS} AS p SET last_write = GREATEST(p.last_write, d.at)
    FROM (SELECT {_P_BY}, max(updated_at) AS at FROM new_docs GROUP BY {_P_BY}) AS d
    WHERE {_PJOIN};
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS store_stats_insert ON store_document;
DROP TRIGGER IF EXISTS store_stats_delete ON store_document;
DROP TRIGGER IF EXISTS store_stats_update ON store_document;
CREATE TRIGGER store_stats_insert AFTER INSERT ON store_document
    REFERENCING NEW TABLE AS new_docs
    FOR EACH STATEMENT EXECUTE FUNCTION store_stats_insert();
CREATE TRIGGER store_stats_delete AFTER DELETE ON store_document
    REFERENCING OLD TABLE AS old_docs
    FOR EACH STATEMENT EXECUTE FUNCTION store_stats_delete();
CREATE TRIGGER store_stats_update AFTER UPDATE ON store_document
    REFERENCING NEW TABLE AS new_docs
    FOR EACH STATEMENT EXECUTE FUNCTION store_stats_update();
"""
POSTGRESQL_DROP = """
DROP TRIGGER IF EXISTS store_stats_insert ON store_document;
DROP TRIGGER IF EXISTS store_stats_delete ON store_document;
DROP TRIGGER IF EXISTS store_stats_update ON store_document;
DROP FUNCTION IF EXISTS store_stats_insert();
DROP FUNCTION IF EXISTS store_stats_delete();
DROP FUNCTION IF EXISTS store_stats_update();
"""
# SQLite has one writer at a time, so each trigger may read and then write.
SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER store_stats_insert AFTER INSERT ON store_document BEGIN
    INSERT INTO {PARTITIONS}
        (tenant_id, app_id, user_id, documents, collections, last_write)
    SELECT NEW.tenant_id, NEW.app_id, NEW.user_id, 0, 0, NEW.updated_at
    WHERE NOT EXISTS (SELECT 1 FROM {PARTITIONS} WHERE {_PKEY.format(r="NEW")});
    INSERT INTO {COLLECTIONS} (tenant_id, app_id, user_id, collection, documents)
    SELECT NEW.tenant_id, NEW.app_id, NEW.user_id, NEW.collection, 0
    WHERE NOT EXISTS (SELECT 1 FROM {COLLECTIONS} WHERE {_CKEY.format(r="NEW")});
    UPDATE {PARTITIONS} SET documents = documents + 1,
        collections = collections + (SELECT documents = 0 FROM {COLLECTIONS}
            WHERE {_CKEY.format(r="NEW")}),
        last_write = max(last_write, NEW.updated_at)
    WHERE {_PKEY.format(r="NEW")};
    UPDATE {COLLECTIONS} SET documents = documents + 1
    WHERE {_CKEY.format(r="NEW")};
END""",
    f"""CREATE TRIGGER store_stats_delete AFTER DELETE ON store_document BEGIN
    UPDATE {COLLECTIONS} SET documents = documents - 1
    WHERE {_CKEY.format(r="OLD")};
    UPDATE {PARTITIONS} SET documents = documents - 1,
        collections = collections - (SELECT count(*) FROM {COLLECTIONS}
            WHERE {_CKEY.format(r="OLD")} AND documents <= 0)
    WHERE {_PKEY.format(r="OLD")};
    DELETE FROM {COLLECTIONS} WHERE {_CKEY.format(r="OLD")} AND documents <= 0;
    DELETE FROM {PARTITIONS} WHERE {_PKEY.format(r="OLD")} AND documents <= 0;
END""",
    f"""CREATE TRIGGER store_stats_update AFTER UPDATE OF updated_at
ON store_document BEGIN
    UPDATE {PARTITIONS} SET last_write = max(last_write, NEW.updated_at)
    WHERE {_PKEY.format(r="NEW")};
END""",
]
SQLITE_DROP = [
    f"DROP TRIGGER IF EXISTS store_stats_{op}" for op in ("insert", "delete", "update")
]
REBUILD = [
    f"DELETE FROM {COLLECTIONS}",
    f"DELETE FROM {PARTITIONS}",
    f"""INSERT INTO {COLLECTIONS} (tenant_id, app_id, user_id, collection, documents)
    SELECT tenant_id, app_id, user_id, collection, count(*) FROM store_document
    GROUP BY tenant_id, app_id, user_id, collection""",
    f"""INSERT INTO {PARTITIONS}
        (tenant_id, app_id, user_id, documents, collections, last_write)
    SELECT tenant_id, app_id, user_id, count(*), count(DISTINCT collection),
        max(updated_at)
    FROM store_document GROUP BY tenant_id, app_id, user_id""",
]


def install_triggers(cursor, vendor):
    """Create the statistics triggers on a ``vendor`` database through ``cursor``."""
    for sql in [POSTGRESQL_TRIGGERS] if vendor == "postgresql" else SQLITE_TRIGGERS:
        cursor.execute(sql)


def drop_triggers(cursor, vendor):
    """Remove the statistics triggers (the reverse of install_triggers)."""
    for sql in [POSTGRESQL_DROP] if vendor == "postgresql" else SQLITE_DROP:
        cursor.execute(sql)


def rebuild(cursor):
    """Recount every partition from the documents table (after a bulk load that
    bypassed the triggers, or when the triggers are first installed)."""
    for sql in REBUILD:
        cursor.execute(sql)
