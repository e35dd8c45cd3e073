-- Sightline's schema. Forward-only: a later change is a new migration, never an edit of this one.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TYPE finding_source AS ENUM ('securityhub', 'guardduty', 'inspector', 'macie', 'accessanalyzer');
-- Declared from least to most severe so that ORDER BY severity sorts by gravity.
CREATE TYPE severity AS ENUM ('informational', 'low', 'medium', 'high', 'critical');
CREATE TYPE finding_status AS ENUM ('open', 'suppressed', 'resolved');
CREATE TYPE coverage_state AS ENUM ('enabled', 'not_enabled', 'access_denied', 'error', 'unknown');

-- The accounts Sightline watches, from the config file or discovered through AWS Organizations.
CREATE TABLE accounts (
    id          text PRIMARY KEY CHECK (id ~ '^[0-9]{12}$'),
    name        text NOT NULL,
    environment text NOT NULL DEFAULT '',
    owner       text NOT NULL DEFAULT '',
    ou_path     text NOT NULL DEFAULT '',
    role_arn    text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per canonical finding: a Security Hub copy and the native finding share the row.
CREATE TABLE findings (
    -- UUIDv5 of canonical_key: the same finding has the same id in every Sightline database.
    id            uuid PRIMARY KEY,
    canonical_key text NOT NULL UNIQUE,
    -- The service that produced the finding (not the one it was read through).
    source        finding_source NOT NULL,
    -- Which services reported it: {"guardduty": {"native_id", "updated_at"}, "securityhub": {...}}.
    provenance    jsonb NOT NULL,
    account_id    text NOT NULL CHECK (account_id ~ '^[0-9]{12}$'),
    region        text NOT NULL,
    severity      severity NOT NULL,
    status        finding_status NOT NULL,
    title         text NOT NULL,
    finding_type  text NOT NULL,
    resource_type text,
    resource_id   text,
    control_id    text,
    -- When the source first observed it, when Sightline last saw it, when the source last changed it.
    first_seen_at timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    -- The authoritative report exactly as AWS sent it (the native one once it has been seen).
    raw           jsonb NOT NULL,
    -- Status and severity before the last write (NULL until the first update): lets one
    -- upsert statement see each row's old and new state atomically, to record its events.
    previous_status   finding_status,
    previous_severity severity,
    -- Free-text search over title, resource and type.
    search_text   text GENERATED ALWAYS AS (
        lower(title || ' ' || coalesce(resource_id, '') || ' ' || coalesce(resource_type, '') || ' ' || finding_type)
    ) STORED
);

-- The findings page filters on each of these and sorts by severity then recency; keyset
-- pagination continues from (severity, updated_at, id).
CREATE INDEX findings_sort_idx ON findings (severity DESC, updated_at DESC, id DESC);
CREATE INDEX findings_open_sort_idx ON findings (severity DESC, updated_at DESC, id DESC) WHERE status = 'open';
CREATE INDEX findings_account_idx ON findings (account_id, status, severity);
CREATE INDEX findings_region_idx ON findings (region, status, severity);
CREATE INDEX findings_source_idx ON findings (source, status, severity);
CREATE INDEX findings_status_idx ON findings (status, severity);
CREATE INDEX findings_resource_type_idx ON findings (resource_type, status);
CREATE INDEX findings_updated_at_idx ON findings (updated_at, id);
CREATE INDEX findings_search_idx ON findings USING gin (search_text gin_trgm_ops);

-- Whether an incoming report of a finding may overwrite the stored fields. The native service's
-- report is authoritative: a Security Hub copy fills the row only until the native report has
-- been seen. Within one reporter, an older update never overwrites a newer one.
CREATE FUNCTION finding_report_wins(
    new_provenance jsonb, new_source finding_source, new_updated_at timestamptz,
    old_provenance jsonb, old_source finding_source, old_updated_at timestamptz
) RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN new_provenance ? new_source::text AND NOT old_provenance ? old_source::text THEN true
        WHEN NOT new_provenance ? new_source::text AND old_provenance ? old_source::text THEN false
        ELSE new_updated_at >= old_updated_at
    END
$$;

-- Adds the reporters of `new` to `old`, keeping for each reporter its most recent report.
CREATE FUNCTION merge_provenance(old jsonb, new jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT old || coalesce(jsonb_object_agg(k, v), '{}'::jsonb)
    FROM jsonb_each(new) AS e(k, v)
    WHERE NOT old ? k OR (old -> k ->> 'updated_at') <= (v ->> 'updated_at')
$$;

-- State transitions of a finding, for its timeline and for the trends.
CREATE TABLE finding_events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    finding_id    uuid NOT NULL REFERENCES findings (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('new', 'severity_changed', 'suppressed', 'unsuppressed', 'resolved', 'reopened')),
    -- When it happened at the source (its UpdatedAt, or first observation for 'new').
    at            timestamptz NOT NULL,
    from_status   finding_status,
    to_status     finding_status NOT NULL,
    from_severity severity,
    to_severity   severity NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX finding_events_finding_idx ON finding_events (finding_id, at);
CREATE INDEX finding_events_at_idx ON finding_events (at);

-- Open counts and flow per day, kept for years; trend pages read only this.
CREATE TABLE daily_rollups (
    day            date NOT NULL,
    account_id     text NOT NULL,
    region         text NOT NULL,
    source         finding_source NOT NULL,
    severity       severity NOT NULL,
    open_count     integer NOT NULL DEFAULT 0,
    new_count      integer NOT NULL DEFAULT 0,
    resolved_count integer NOT NULL DEFAULT 0,
    reopened_count integer NOT NULL DEFAULT 0,
    PRIMARY KEY (day, account_id, region, source, severity)
);

-- Whether each (account, region, source) is switched on, as last read from the service itself.
CREATE TABLE coverage (
    account_id  text NOT NULL,
    region      text NOT NULL,
    source      finding_source NOT NULL,
    state       coverage_state NOT NULL,
    message     text NOT NULL DEFAULT '',
    checked_at  timestamptz NOT NULL,
    PRIMARY KEY (account_id, region, source)
);

-- The unit of polling: its watermark and its lease, so several pollers can share the work.
CREATE TABLE poll_targets (
    account_id         text NOT NULL,
    region             text NOT NULL,
    source             finding_source NOT NULL,
    -- Newest source UpdatedAt stored; the next incremental poll starts there minus an overlap.
    watermark          timestamptz,
    last_full_sweep_at timestamptz,
    last_polled_at     timestamptz,
    last_success_at    timestamptz,
    lease_owner        text,
    lease_expires_at   timestamptz,
    PRIMARY KEY (account_id, region, source)
);
CREATE INDEX poll_targets_lease_idx ON poll_targets (lease_expires_at);

-- One row per poll cycle (target columns NULL) and one per target polled in it.
CREATE TABLE poll_runs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    cycle_id         uuid NOT NULL,
    account_id       text,
    region           text,
    source           finding_source,
    started_at       timestamptz NOT NULL,
    ended_at         timestamptz,
    full_sweep       boolean NOT NULL DEFAULT false,
    pages            integer NOT NULL DEFAULT 0,
    findings_seen    integer NOT NULL DEFAULT 0,
    findings_changed integer NOT NULL DEFAULT 0,
    unparseable      integer NOT NULL DEFAULT 0,
    throttles        integer NOT NULL DEFAULT 0,
    retries          integer NOT NULL DEFAULT 0,
    error            text
);
CREATE INDEX poll_runs_cycle_idx ON poll_runs (cycle_id);
CREATE INDEX poll_runs_started_idx ON poll_runs (started_at DESC);
CREATE INDEX poll_runs_target_idx ON poll_runs (account_id, region, source, started_at DESC);

-- Findings a source sent that could not be normalised: kept raw, counted, shown.
CREATE TABLE unparseable_findings (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id  text NOT NULL,
    region      text NOT NULL,
    via         finding_source NOT NULL,
    error       text NOT NULL,
    raw         jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- API bearer tokens, stored as SHA-256 hashes; the token itself is shown once.
CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL UNIQUE,
    token_hash   bytea NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
