-- The free-text search's counts (BENCHMARKS.md, "Pages and API at 1,000,000 findings":
-- /findings?q=encryption p95 494 ms). Counting the matches of `q` read one ~1 KB findings row
-- per match (60,029 matches on 48,777 heap pages). The list now counts at most the first 1,000
-- matches (db::findings_list::facets), from this narrow copy of what the search filters on and
-- counts by: ~290 bytes a row, so the capped count reads a few hundred pages, scanned in order
-- when a word is common or through its own trigram index when it is rare.
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

INSERT INTO finding_search
SELECT id, search_text, severity, status, source, region, account_id, resource_type, updated_at
FROM findings
ON CONFLICT (id) DO NOTHING;

CREATE INDEX IF NOT EXISTS finding_search_text_idx ON finding_search USING gin (search_text gin_trgm_ops);

-- Copies a statement's inserted or updated findings (a row whose copy is already equal is not
-- rewritten) and drops its deleted ones; a truncate empties the copy. A finding's id never
-- changes (it is derived from its key), so an update never leaves an old id behind.
CREATE OR REPLACE FUNCTION finding_search_copy() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE finding_search;
        RETURN NULL;
    END IF;
    IF TG_OP = 'DELETE' THEN
        DELETE FROM finding_search s USING old_rows o WHERE s.id = o.id;
        RETURN NULL;
    END IF;
    -- In id order, so that two writers lock the rows they share in the same order.
    INSERT INTO finding_search AS s
    SELECT id, search_text, severity, status, source, region, account_id, resource_type, updated_at
    FROM new_rows
    ORDER BY id
    ON CONFLICT (id) DO UPDATE SET
        (search_text, severity, status, source, region, account_id, resource_type, updated_at) =
        (excluded.search_text, excluded.severity, excluded.status, excluded.source,
         excluded.region, excluded.account_id, excluded.resource_type, excluded.updated_at)
    WHERE (s.search_text, s.severity, s.status, s.source, s.region, s.account_id,
           s.resource_type, s.updated_at)
          IS DISTINCT FROM
          (excluded.search_text, excluded.severity, excluded.status, excluded.source,
           excluded.region, excluded.account_id, excluded.resource_type, excluded.updated_at);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER findings_search_insert AFTER INSERT ON findings
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_search_copy();
CREATE OR REPLACE TRIGGER findings_search_update AFTER UPDATE ON findings
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION finding_search_copy();
CREATE OR REPLACE TRIGGER findings_search_delete AFTER DELETE ON findings
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION finding_search_copy();
CREATE OR REPLACE TRIGGER findings_search_truncate AFTER TRUNCATE ON findings
    FOR EACH STATEMENT EXECUTE FUNCTION finding_search_copy();
