-- splits: one row per split (validation splits 0, 1, ... and the retrain split -1).
--
-- score: the best finite validation value of the round's main metric in this
-- split (max when the split declared the metric higher-is-better, else min),
-- whatever the split's status; NaN and +-inf are ignored. n_epochs_to_best:
-- the 1-based epoch of the first occurrence of that best value. Both are NULL
-- when the split has no finite value of the main metric, when the round has
-- no main metric, or when the split never declared the metric's direction.
-- started_at: the latest RUNNING event; ended_at: the latest event's time
-- when the split is SUCCESS, FAILED or ABORTED (NULL while it is not).
WITH split_state AS (
    SELECT *
    FROM _scope_state
    WHERE level = 'split'
),
direction AS (
    -- each split's direction for each of its metrics (its latest metric event)
    SELECT project, client, round, trial, split, metric, higher_is_better
    FROM _scope_state
    WHERE level = 'metric'
),
main_metric_values AS (
    SELECT
        v.project, v.client, v.round, v.trial, v.split, v.epoch, v.value,
        -- a "loss": lower is better whatever the direction, so min() finds the best
        CASE WHEN d.higher_is_better THEN -v.value ELSE v.value END AS loss
    FROM _metric_values AS v
    JOIN _round_state AS r
        ON r.project = v.project AND r.client = v.client AND r.round = v.round
        AND r.main_metric_name = v.metric
    JOIN direction AS d
        ON d.project = v.project AND d.client = v.client AND d.round = v.round
        AND d.trial = v.trial AND d.split = v.split AND d.metric = v.metric
    WHERE v.phase = 'valid' AND isfinite(v.value) AND d.higher_is_better IS NOT NULL
),
best AS (
    -- the best value, ties going to the earliest epoch
    SELECT
        project, client, round, trial, split,
        arg_min(value, struct_pack(loss := loss, epoch := epoch)) AS score,
        arg_min(epoch, struct_pack(loss := loss, epoch := epoch)) AS n_epochs_to_best
    FROM main_metric_values
    GROUP BY project, client, round, trial, split
)
SELECT
    s.project,
    s.client,
    s.round,
    s.trial,
    s.split,
    s.status,
    b.score,
    b.n_epochs_to_best,
    s.last_running_at AS started_at,
    CASE WHEN s.status IN ('SUCCESS', 'FAILED', 'ABORTED') THEN s.last_at END AS ended_at,
    s.error
FROM split_state AS s
LEFT JOIN best AS b
    ON b.project = s.project AND b.client = s.client AND b.round = s.round
    AND b.trial = s.trial AND b.split = s.split
ORDER BY s.project, s.client, s.round, s.trial, s.split
