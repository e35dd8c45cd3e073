-- The free-text search's counts (BENCHMARKS.md, "Pages and API at 1,000,000 findings":
-- /findings?q=encryption p95 494 ms). Counting the matches of `q` read one ~1 KB findings row
-- per match (60,029 matches on 48,777 heap pages). The list now counts at most the first 1,000
-- matches (db::findings_list::facets); when the planner expects a filter to match many
-- findings, it counts them from this narrow copy of what the search filters on and counts by
-- (~290 bytes a row), read in order until the cap: a few hundred pages. A rarer filter is
-- counted through the trigram index on `findings`. The copy has no trigram index of its own:
-- a second one made writing new findings 21–37% slower (measured with ./scripts/bench upsert).
--
-- Statement triggers keep it equal to `findings`, in the writer's transaction, whoever writes
-- (upsert_batch, resolve_unseen, tests). Written so that running it again changes nothing: the
-- benchmark database gets it with psql before the binary that records it runs.
CREATE TABLE IF NOT EXISTS finding_search (
    id            uuid PRIMARY KEY,
    search_text   text NOT NULL,
    severity      severity NOT NULL,
    status        finding_status NOT NULL,
    source        finding_source NOT NULL,
    region        text NOT NULL,
    account_id    text NOT NULL,
    resource_type text,
    updated_at    timestamptz NOT NULL
);

-- Copies a statement's inserted and updated findings (an update leaves a copy that is already
-- equal alone) and drops its deleted ones; a truncate empties the copy. A finding's id never
-- changes (it is derived from its key), so an update never leaves an old id behind.
CREATE OR REPLACE FUNCTION finding_search_copy() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE finding_search;
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM finding_search s USING old_rows o WHERE s.id = o.id;
    ELSIF TG_OP = 'UPDATE' THEN
        UPDATE finding_search s SET
            (search_text, severity, status, source, region, account_id, resource_type, updated_at) =
            (n.search_text, n.severity, n.status, n.source, n.region, n.account_id, n.resource_type,
             n.updated_at)
        FROM new_rows n
        WHERE s.id = n.id
          AND (s.search_text, s.severity, s.status, s.source, s.region, s.account_id,
               s.resource_type, s.updated_at)
              IS DISTINCT FROM
              (n.search_text, n.severity, n.status, n.source, n.region, n.account_id,
               n.resource_type, n.updated_at);
    ELSE
        INSERT INTO finding_search
        SELECT id, search_text, severity, status, source, region, account_id, resource_type,
               updated_at
        FROM new_rows;
    END IF;
    RETURN NULL;
END
$fn$;

-- The triggers first: creating one locks out writers until this migration commits, so the copy
-- below misses nothing.
CREATE OR REPLACE TRIGGER findings_search_insert AFTER INSERT ON findings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_search_copy();
CREATE OR REPLACE TRIGGER findings_search_update AFTER UPDATE ON findings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION finding_search_copy();
CREATE OR REPLACE TRIGGER findings_search_delete AFTER DELETE ON findings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_search_copy();
CREATE OR REPLACE TRIGGER findings_search_truncate AFTER TRUNCATE ON findings
    FOR EACH STATEMENT EXECUTE FUNCTION finding_search_copy();

INSERT INTO finding_search
SELECT id, search_text, severity, status, source, region, account_id, resource_type, updated_at
FROM findings
ON CONFLICT (id) DO NOTHING;
