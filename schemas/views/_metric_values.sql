-- _metric_values (internal): the metrics view, minus the values of replaced
-- retrain records.
--
-- A trial's retrain split (split -1) can be replaced: a new PLANNED event for
-- split -1 starts a fresh record, whose epochs count from 1 again. Values of
-- split -1 logged before the latest PLANNED event of split -1 belong to an
-- earlier record and are left out here (logged_at < that event's "at"). The
-- raw `metrics` view keeps every value as logged. Validation splits (>= 0)
-- are never replaced and pass through unchanged.
WITH current_retrain_records AS (
    SELECT project, client, round, trial, last_planned_at AS planned_at
    FROM _scope_state
    WHERE level = 'split' AND split = -1
)
SELECT m.*
FROM metrics AS m
WHERE m.split <> -1
UNION ALL
SELECT m.*
FROM metrics AS m
LEFT JOIN current_retrain_records AS r
    ON r.project = m.project AND r.client = m.client AND r.round = m.round
    AND r.trial = m.trial
WHERE m.split = -1 AND (r.planned_at IS NULL OR m.logged_at >= r.planned_at)
