-- trials: one row per trial.
--
-- status, hyperparams, error, created_at, started_at, ended_at: the trial's
-- state (_scope_state; hyperparams is a flat JSON object, keys joined with
-- "__"). score, n_epochs_to_best: the trial's score rule (_trial_metric) for
-- the round's main metric: the mean best value of its SUCCESS validation
-- splits, defined only when the trial is SUCCESS. n_splits: the number of
-- validation splits (the retrain split, -1, is not one).
WITH split_counts AS (
    SELECT project, client, round, trial, count(*) AS n_splits
    FROM _scope_state
    WHERE level = 'split' AND split >= 0
    GROUP BY project, client, round, trial
)
SELECT
    t.project,
    t.client,
    t.round,
    t.trial,
    t.status,
    t.hyperparams,
    m.score,
    m.n_epochs_to_best,
    coalesce(c.n_splits, 0) AS n_splits,
    t.created_at,
    t.started_at,
    t.ended_at,
    t.error
FROM _scope_state AS t
LEFT JOIN _round_state AS r
    ON r.project = t.project AND r.client = t.client AND r.round = t.round
LEFT JOIN _trial_metric AS m
    ON m.project = t.project AND m.client = t.client AND m.round = t.round
    AND m.trial = t.trial AND m.metric = r.main_metric_name
LEFT JOIN split_counts AS c
    ON c.project = t.project AND c.client = t.client AND c.round = t.round
    AND c.trial = t.trial
WHERE t.level = 'trial'
ORDER BY t.project, t.client, t.round, t.trial
