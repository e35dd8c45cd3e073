-- Sums of daily_rollups that the trend series read instead of the rollups themselves
-- (db::trends). At 200 accounts × 16 regions a day has ~60,000 rollups, so a year of the
-- estate's series summed 20 M rows (seconds per request); these tables hold at most 25 rows a
-- day (daily_totals) and 5 per account a day (daily_account_totals). Statement triggers keep
-- them equal to the sums of the rollups, in the writer's transaction, whoever writes them
-- (db::rollups::recompute and purge, `sightline rollup`, tests).

-- Per day × source × severity: the estate's series, of every source or some.
CREATE TABLE daily_totals (
    day            date NOT NULL,
    source         finding_source NOT NULL,
    severity       severity NOT NULL,
    open_count     bigint NOT NULL,
    new_count      bigint NOT NULL,
    resolved_count bigint NOT NULL,
    reopened_count bigint NOT NULL,
    past_sla_count bigint NOT NULL,
    -- The rollups summed here. A row left with none is deleted: a row exists exactly when the
    -- rollups have one for its key, so a series sees the same groups in either table.
    rollup_rows    integer NOT NULL,
    PRIMARY KEY (day, source, severity)
);

-- Per day × account × source: every account's counts on a day (the movers).
CREATE TABLE daily_account_totals (
    day            date NOT NULL,
    account_id     text NOT NULL,
    source         finding_source NOT NULL,
    open_count     bigint NOT NULL,
    new_count      bigint NOT NULL,
    resolved_count bigint NOT NULL,
    reopened_count bigint NOT NULL,
    past_sla_count bigint NOT NULL,
    rollup_rows    integer NOT NULL,
    PRIMARY KEY (day, account_id, source)
);

-- In key order: a day's rows share pages.
INSERT INTO daily_totals
SELECT day, source, severity, sum(open_count), sum(new_count), sum(resolved_count),
       sum(reopened_count), sum(past_sla_count), count(*)
FROM daily_rollups
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;

INSERT INTO daily_account_totals
SELECT day, account_id, source, sum(open_count), sum(new_count), sum(resolved_count),
       sum(reopened_count), sum(past_sla_count), count(*)
FROM daily_rollups
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;

-- Adds a statement's inserted rollups to the sums and takes its deleted ones off (an update
-- does both), then deletes the sums left without rollups on the days it touched.
CREATE FUNCTION daily_rollups_sum() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    plus CONSTANT text := 'SELECT day, account_id, source, severity, open_count, new_count,
        resolved_count, reopened_count, past_sla_count, 1 FROM new_rows';
    minus CONSTANT text := 'SELECT day, account_id, source, severity, -open_count, -new_count,
        -resolved_count, -reopened_count, -past_sla_count, -1 FROM old_rows';
    days date[];
BEGIN
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
            SELECT day, account_id, source, sum(open_count), sum(new_count),
                   sum(resolved_count), sum(reopened_count), sum(past_sla_count), sum(n)
            FROM delta
            GROUP BY 1, 2, 3
            ORDER BY 1, 2, 3
            ON CONFLICT (day, account_id, source) DO UPDATE SET
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

CREATE TRIGGER daily_rollups_sum_insert AFTER INSERT ON daily_rollups
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION daily_rollups_sum();
CREATE TRIGGER daily_rollups_sum_update AFTER UPDATE ON daily_rollups
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION daily_rollups_sum();
CREATE TRIGGER daily_rollups_sum_delete AFTER DELETE ON daily_rollups
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION daily_rollups_sum();
CREATE TRIGGER daily_rollups_sum_truncate AFTER TRUNCATE ON daily_rollups
    FOR EACH STATEMENT EXECUTE FUNCTION daily_rollups_sum();
