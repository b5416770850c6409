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
extremes AS (
    -- per split and metric: the smallest and largest finite validation
    -- values, each with the first epoch reaching it
    SELECT
        project, client, round, trial, split, metric,
        min(value) AS min_value,
        arg_min(epoch, struct_pack(value := value, epoch := epoch)) AS min_epoch,
        max(value) AS max_value,
        arg_max(epoch, struct_pack(value := value, epoch := -epoch)) AS max_epoch
    FROM _metric_values
    WHERE phase = 'valid' AND isfinite(value)
        AND metric IN (SELECT main_metric_name FROM _round_state)
    GROUP BY project, client, round, trial, split, metric
),
best AS (
    -- the round's main metric only, in the direction the split declared
    -- for it (its latest metric event)
    SELECT
        x.project, x.client, x.round, x.trial, x.split,
        CASE WHEN d.higher_is_better THEN x.max_value ELSE x.min_value END AS score,
        CASE WHEN d.higher_is_better THEN x.max_epoch ELSE x.min_epoch END AS n_epochs_to_best
    FROM extremes AS x
    JOIN _round_state AS r
        ON r.project = x.project AND r.client = x.client AND r.round = x.round
        AND r.main_metric_name = x.metric
    JOIN _scope_state AS d
        ON d.level = 'metric'
        AND d.project = x.project AND d.client = x.client AND d.round = x.round
        AND d.trial = x.trial AND d.split = x.split AND d.metric = x.metric
    WHERE d.higher_is_better IS NOT NULL
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
