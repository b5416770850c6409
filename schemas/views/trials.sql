-- trials: one row per trial.
--
-- status, hyperparams, error: from the trial's latest event (hyperparams: the
-- latest non-null flat JSON object text, keys joined with "__").
-- score: the mean, over the trial's validation splits (split >= 0) that are
-- SUCCESS and have a score, of those split scores; defined only when the
-- trial itself is SUCCESS (NULL otherwise, or when no such split exists).
-- n_epochs_to_best: the mean n_epochs_to_best of those same splits, whatever
-- the trial's status. n_splits: the number of validation splits (the retrain
-- split, -1, is not one).
-- created_at: the first PLANNED event; started_at: the latest RUNNING event
-- (NULL if it never ran); ended_at: the latest event's time when the trial is
-- SUCCESS, FAILED or ABORTED (NULL while it is planned or running).
WITH trial_state AS (
    SELECT *
    FROM _scope_state
    WHERE level = 'trial'
),
validation_splits AS (
    SELECT
        project, client, round, trial,
        count(*) AS n_splits,
        avg(score) FILTER (WHERE status = 'SUCCESS' AND score IS NOT NULL) AS mean_score,
        avg(n_epochs_to_best) FILTER (WHERE status = 'SUCCESS' AND score IS NOT NULL)
            AS mean_epochs_to_best
    FROM splits
    WHERE split >= 0
    GROUP BY project, client, round, trial
)
SELECT
    t.project,
    t.client,
    t.round,
    t.trial,
    t.status,
    t.hyperparams,
    CASE WHEN t.status = 'SUCCESS' THEN v.mean_score END AS score,
    v.mean_epochs_to_best AS n_epochs_to_best,
    coalesce(v.n_splits, 0) AS n_splits,
    coalesce(t.first_planned_at, t.first_at) AS created_at,
    t.last_running_at AS started_at,
    CASE WHEN t.status IN ('SUCCESS', 'FAILED', 'ABORTED') THEN t.last_at END AS ended_at,
    t.error
FROM trial_state AS t
LEFT JOIN validation_splits AS v
    ON v.project = t.project AND v.client = t.client AND v.round = t.round
    AND v.trial = t.trial
ORDER BY t.project, t.client, t.round, t.trial
