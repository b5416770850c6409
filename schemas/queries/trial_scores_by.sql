-- Every SUCCESS trial of one round with its score for $metric under $rule.
-- Per SUCCESS validation split: 'best' is the split's score by the views'
-- rule (_split_metric); 'last' is its finite validation value of the latest
-- epoch, 'mean' the mean of its finite validation values. A trial's score is
-- the mean over its splits that have one (NULL if none).
WITH success_splits AS (
    SELECT trial, split
    FROM _scope_state
    WHERE project = $project AND client = $client AND round = $round
        AND level = 'split' AND status = 'SUCCESS' AND split >= 0
),
by_rule AS (
    SELECT trial, split,
           CASE $rule WHEN 'last' THEN arg_max(value, epoch) ELSE avg(value) END AS score
    FROM _metric_values
    WHERE $rule IN ('last', 'mean')
        AND project = $project AND client = $client AND round = $round
        AND metric = $metric AND phase = 'valid' AND split >= 0 AND isfinite(value)
    GROUP BY trial, split
    UNION ALL
    SELECT trial, split, best AS score
    FROM _split_metric
    WHERE $rule = 'best'
        AND project = $project AND client = $client AND round = $round
        AND metric = $metric AND split >= 0
),
per_split AS (
    SELECT r.trial, r.split, r.score
    FROM by_rule AS r
    JOIN success_splits AS s ON s.trial = r.trial AND s.split = r.split
)
SELECT t.trial, t.hyperparams, avg(p.score) AS score, count(p.score) AS n_splits
FROM _scope_state AS t
LEFT JOIN per_split AS p ON p.trial = t.trial
WHERE t.project = $project AND t.client = $client AND t.round = $round
    AND t.level = 'trial' AND t.status = 'SUCCESS'
GROUP BY t.trial, t.hyperparams
ORDER BY t.trial
