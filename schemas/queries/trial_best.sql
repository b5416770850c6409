-- The best eligible trial of one round for $metric: SUCCESS with a score,
-- best first by the metric's direction ($higher), ties to the lowest trial id
-- (the order of RoundReport.summary). No row when no trial is eligible.
SELECT t.trial, t.status, t.hyperparams, m.score
FROM _trial_metric AS m
JOIN _scope_state AS t
    ON t.level = 'trial' AND t.project = m.project AND t.client = m.client
    AND t.round = m.round AND t.trial = m.trial
WHERE m.project = $project AND m.client = $client AND m.round = $round
    AND m.metric = $metric AND t.status = 'SUCCESS' AND m.score IS NOT NULL
ORDER BY CASE WHEN $higher THEN -m.score ELSE m.score END, t.trial
LIMIT 1
