-- The observability baseline: each account's result for each of the ten checks, with the
-- evidence and when it was read, and every change of result as an event (the baseline's history).

CREATE TABLE baseline_results (
    account_id  text NOT NULL,
    check_name  text NOT NULL,
    result      text NOT NULL CHECK (result IN ('pass', 'fail', 'unknown')),
    -- False where the check is advisory for this account (data events outside production).
    required    boolean NOT NULL,
    evidence    text NOT NULL,
    read_at     timestamptz NOT NULL,
    -- When `result` last changed (the first read counts as a change).
    changed_at  timestamptz NOT NULL,
    PRIMARY KEY (account_id, check_name)
);

CREATE TABLE baseline_events (
    id               bigserial PRIMARY KEY,
    account_id       text NOT NULL,
    check_name       text NOT NULL,
    at               timestamptz NOT NULL,
    -- NULL on an account's first read of the check.
    previous_result  text,
    result           text NOT NULL,
    evidence         text NOT NULL
);
CREATE INDEX baseline_events_by_check ON baseline_events (account_id, check_name, at DESC);
CREATE INDEX baseline_events_by_time ON baseline_events (at DESC);

-- The CloudWatch check reads each account's open Security Hub CloudWatch.* control findings.
CREATE INDEX findings_open_cloudwatch_controls ON findings (account_id, control_id)
    WHERE status = 'open' AND control_id LIKE 'CloudWatch.%';
