-- Counts of canonical findings per account, region, source, severity, status and resource type:
-- what the overview, accounts, regions, /api/v1/stats/open and the findings list's facets sum
-- up. Grouping a million findings on every page view costs hundreds of milliseconds; this view
-- holds at most a few hundred thousand rows and is refreshed by the poller during and after
-- each cycle (REFRESH … CONCURRENTLY: readers never wait). The pages say how old it is.
CREATE MATERIALIZED VIEW finding_counts AS
SELECT account_id, region, source, severity, status,
       coalesce(resource_type, '') AS resource_type,
       count(*)::bigint AS n
FROM findings
GROUP BY 1, 2, 3, 4, 5, 6;

-- REFRESH … CONCURRENTLY needs a unique index over every row.
CREATE UNIQUE INDEX finding_counts_key
    ON finding_counts (account_id, region, source, severity, status, resource_type);
CREATE INDEX finding_counts_open_idx ON finding_counts (status, account_id);

-- When finding_counts was last refreshed (one row).
CREATE TABLE finding_counts_refreshed (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    at       timestamptz NOT NULL
);
INSERT INTO finding_counts_refreshed (at) VALUES (now());
