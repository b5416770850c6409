-- Every trial of one round with its score for $metric (NULL unless SUCCESS).
SELECT t.trial, t.status, t.hyperparams, m.score
FROM _scope_state AS t
LEFT JOIN _trial_metric AS m
    ON m.project = t.project AND m.client = t.client AND m.round = t.round
    AND m.trial = t.trial AND m.metric = $metric
WHERE t.project = $project AND t.client = $client AND t.round = $round
    AND t.level = 'trial'
ORDER BY t.trial
