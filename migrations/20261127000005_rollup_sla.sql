-- Daily rollups also count, per day, the open findings older than their severity's SLA (days
-- from `[sla]`, read when the rollup is computed; see db::rollups::recompute).
ALTER TABLE daily_rollups ADD COLUMN past_sla_count integer NOT NULL DEFAULT 0;

-- Mean time to resolve reads the resolutions of a period (db::trends::mttr); resolutions are a
-- fraction of all events.
CREATE INDEX finding_events_resolved_at_idx ON finding_events (at) WHERE kind = 'resolved';

-- The SLA breach list reads open findings of one severity first seen before a date
-- (db::trends::sla_breaches).
CREATE INDEX findings_open_first_seen_idx ON findings (severity, first_seen_at) WHERE status = 'open';
