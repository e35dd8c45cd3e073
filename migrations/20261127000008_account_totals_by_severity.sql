-- daily_account_totals gains the severity, so that a series of some accounts (an account, an
-- environment, an owner) reads at most 25 rows per account and day instead of the rollups of
-- every region (400 at 16 regions): /trends filtered by one account read ~150,000 rollups for
-- a year (5 s a request under load), by an environment ~7 M (23 s, 503s; BENCHMARKS.md,
-- "Trends"). An index by account then day finds one account's days without reading the
-- others'.
--
-- trend_inputs_changed records when daily_rollups or accounts (whose environment, owner and name
-- the series filter and show) last changed, so that servers can keep the series they computed
-- until then (web::series).

DROP TABLE daily_account_totals;

CREATE TABLE daily_account_totals (
    day            date NOT NULL,
    account_id     text NOT NULL,
    source         finding_source NOT NULL,
    severity       severity NOT NULL,
    open_count     bigint NOT NULL,
    new_count      bigint NOT NULL,
    resolved_count bigint NOT NULL,
    reopened_count bigint NOT NULL,
    past_sla_count bigint NOT NULL,
    rollup_rows    integer NOT NULL,
    PRIMARY KEY (day, account_id, source, severity)
);

INSERT INTO daily_account_totals
SELECT day, account_id, source, severity, sum(open_count), sum(new_count), sum(resolved_count),
       sum(reopened_count), sum(past_sla_count), count(*)
FROM daily_rollups
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4;

CREATE INDEX daily_account_totals_by_account ON daily_account_totals (account_id, day);

CREATE TABLE trend_inputs_changed (
    -- One row.
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    at        timestamptz NOT NULL
);
INSERT INTO trend_inputs_changed (at) VALUES (clock_timestamp());

CREATE FUNCTION trend_inputs_touch() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    UPDATE trend_inputs_changed SET at = clock_timestamp();
    RETURN NULL;
END
$fn$;

-- Per row: accounts change rarely, and a sync that changes nothing writes no row.
CREATE TRIGGER accounts_trend_inputs AFTER INSERT OR UPDATE OR DELETE ON accounts
    FOR EACH ROW EXECUTE FUNCTION trend_inputs_touch();

-- As in 20261127000007, with the severity in the accounts' sums and the change recorded.
CREATE OR REPLACE FUNCTION daily_rollups_sum() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    plus CONSTANT text := 'SELECT day, account_id, source, severity, open_count, new_count,
        resolved_count, reopened_count, past_sla_count, 1 FROM new_rows';
    minus CONSTANT text := 'SELECT day, account_id, source, severity, -open_count, -new_count,
        -resolved_count, -reopened_count, -past_sla_count, -1 FROM old_rows';
    days date[];
BEGIN
    UPDATE trend_inputs_changed SET at = clock_timestamp();
    IF TG_OP = 'TRUNCATE' THEN
        TRUNCATE daily_totals, daily_account_totals;
        RETURN NULL;
    END IF;
    -- Keys in a fixed order, so that two writers lock the rows they share in the same order.
    EXECUTE format($sql$
        WITH delta (day, account_id, source, severity, open_count, new_count, resolved_count,
                    reopened_count, past_sla_count, n) AS MATERIALIZED (%s),
        acc AS (
            INSERT INTO daily_account_totals AS t
            SELECT day, account_id, source, severity, sum(open_count), sum(new_count),
                   sum(resolved_count), sum(reopened_count), sum(past_sla_count), sum(n)
            FROM delta
            GROUP BY 1, 2, 3, 4
            ORDER BY 1, 2, 3, 4
            ON CONFLICT (day, account_id, source, severity) DO UPDATE SET
                open_count = t.open_count + excluded.open_count,
                new_count = t.new_count + excluded.new_count,
                resolved_count = t.resolved_count + excluded.resolved_count,
                reopened_count = t.reopened_count + excluded.reopened_count,
                past_sla_count = t.past_sla_count + excluded.past_sla_count,
                rollup_rows = t.rollup_rows + excluded.rollup_rows
        ),
        tot AS (
            INSERT INTO daily_totals AS t
            SELECT day, source, severity, sum(open_count), sum(new_count), sum(resolved_count),
                   sum(reopened_count), sum(past_sla_count), sum(n)
            FROM delta
            GROUP BY 1, 2, 3
            ORDER BY 1, 2, 3
            ON CONFLICT (day, source, severity) DO UPDATE SET
                open_count = t.open_count + excluded.open_count,
                new_count = t.new_count + excluded.new_count,
                resolved_count = t.resolved_count + excluded.resolved_count,
                reopened_count = t.reopened_count + excluded.reopened_count,
                past_sla_count = t.past_sla_count + excluded.past_sla_count,
                rollup_rows = t.rollup_rows + excluded.rollup_rows
            RETURNING day
        )
        SELECT array_agg(DISTINCT day) FROM tot
    $sql$, CASE TG_OP WHEN 'INSERT' THEN plus
                      WHEN 'DELETE' THEN minus
                      ELSE plus || ' UNION ALL ' || minus END)
    INTO days;
    -- Only a delete (or an update) can leave a sum without rollups.
    IF TG_OP <> 'INSERT' AND days IS NOT NULL THEN
        DELETE FROM daily_account_totals WHERE day = ANY (days) AND rollup_rows = 0;
        DELETE FROM daily_totals WHERE day = ANY (days) AND rollup_rows = 0;
    END IF;
    RETURN NULL;
END
$fn$;
