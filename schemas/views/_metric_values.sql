-- _metric_values (internal): the metrics view, minus the values of replaced
-- records of the retrain split.
--
-- A trial's retrain split (split -1) can be replaced: a new record (a higher
-- `attempt`) starts afresh, its epochs counting from 1 again. Only values of
-- the split's current record (_scope_state.record) count; the raw `metrics`
-- view keeps every value as logged. Validation splits (>= 0) have a single
-- record and pass through unchanged. Membership never compares timestamps,
-- except for values of format 1 files (no `attempt`), which belong to the
-- current record when logged at or after its PLANNED event.
WITH retrain_records AS (
    SELECT project, client, round, trial, record, created_at
    FROM _scope_state
    WHERE level = 'split' AND split = -1
)
SELECT m.*
FROM metrics AS m
WHERE m.split <> -1
UNION ALL
SELECT m.*
FROM metrics AS m
LEFT JOIN retrain_records AS r
    ON r.project = m.project AND r.client = m.client AND r.round = m.round
    AND r.trial = m.trial
WHERE m.split = -1
    AND CASE WHEN m.attempt IS NULL THEN r.created_at IS NULL OR m.logged_at >= r.created_at
             ELSE m.attempt = coalesce(r.record, 0) END
