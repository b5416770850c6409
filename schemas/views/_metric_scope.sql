-- _metric_scope (internal): one row per split x metric declared in the
-- split's current record, with the direction the split declared for it
-- (its latest metric event in that record) and that record's number.
WITH split_records AS (
    SELECT project, client, round, trial, split, record
    FROM _scope_state
    WHERE level = 'split'
)
SELECT
    d.project,
    d.client,
    d.round,
    d.trial,
    d.split,
    d.metric,
    d.record,
    d.higher_is_better,
    d.first_at
FROM _scope_state AS d
LEFT JOIN split_records AS s
    ON s.project = d.project AND s.client = d.client AND s.round = d.round
    AND s.trial = d.trial AND s.split = d.split
WHERE d.level = 'metric' AND d.record = coalesce(s.record, 0)
