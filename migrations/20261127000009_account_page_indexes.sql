-- The account page's two statements that read the account's findings on every view
-- (BENCHMARKS.md, "Pages and API at 1,000,000 findings": /accounts/{id} p95 543 ms).
--
-- Recent events: each event carries its finding's account (a finding's account is part of its
-- identity: upsert_batch writes it with the event), so that the account's newest events are
-- the first entries of one index instead of one probe per finding of the account (18,724
-- probes, 216–324 ms, for a large account at a million findings).
ALTER TABLE finding_events ADD COLUMN account_id text;
UPDATE finding_events e SET account_id = f.account_id FROM findings f WHERE f.id = e.finding_id;
ALTER TABLE finding_events ALTER COLUMN account_id SET NOT NULL;
CREATE INDEX finding_events_account_idx ON finding_events (account_id, at DESC, id DESC);

-- The most frequent kinds of open finding: counted from this index alone, in its order, instead
-- of the open findings' heap pages (12,499 pages for a large account). Titles stay out of it
-- (a long one would not fit an index entry): the page reads one per kind shown.
CREATE INDEX findings_open_kinds_idx ON findings (account_id, source, finding_type, control_id)
    INCLUDE (severity) WHERE status = 'open';
