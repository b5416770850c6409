-- splits: one row per split (validation splits 0, 1, ... and the retrain split -1).
--
-- status, error, started_at, ended_at: the split's state (_scope_state).
-- score, n_epochs_to_best: the split's best value of the round's main metric
-- and its epoch (_split_metric: max or min by the direction the split
-- declared, finite values only), whatever the split's status. Both are NULL
-- when the split has no finite value of the main metric or the round has no
-- main metric.
SELECT
    s.project,
    s.client,
    s.round,
    s.trial,
    s.split,
    s.status,
    m.best AS score,
    m.n_epochs_to_best,
    s.started_at,
    s.ended_at,
    s.error
FROM _scope_state AS s
LEFT JOIN _round_state AS r
    ON r.project = s.project AND r.client = s.client AND r.round = s.round
LEFT JOIN _split_metric AS m
    ON m.project = s.project AND m.client = s.client AND m.round = s.round
    AND m.trial = s.trial AND m.split = s.split AND m.metric = r.main_metric_name
WHERE s.level = 'split'
ORDER BY s.project, s.client, s.round, s.trial, s.split
