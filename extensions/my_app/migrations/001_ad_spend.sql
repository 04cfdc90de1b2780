-- Ad spend per user, campaign and day; read by the seed's fetch_spend_report.
-- Portable SQL: the same file runs on PostgreSQL and on SQLite.
CREATE TABLE ad_spend (
    user_id     VARCHAR(128)   NOT NULL,
    campaign_id VARCHAR(128)   NOT NULL,
    year        INTEGER        NOT NULL,
    month       INTEGER        NOT NULL CHECK (month BETWEEN 1 AND 12),
    day         INTEGER        NOT NULL DEFAULT 1 CHECK (day BETWEEN 1 AND 31),
    spend       NUMERIC(12, 2) NOT NULL CHECK (spend >= 0),
    PRIMARY KEY (user_id, campaign_id, year, month, day)
);

-- Every query of this table filters by user first (the seed's rule for ctx.db).
CREATE INDEX ad_spend_user_month ON ad_spend (user_id, year, month);
