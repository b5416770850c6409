-- Every SUCCESS trial of one round with its score for $metric under $rule.
-- Per SUCCESS validation split, over its finite validation values of the
-- metric: 'best' is the best one in the direction the split declared (the
-- views' rule), 'last' the one of the latest epoch, 'mean' their mean. A
-- trial's score is the mean over its splits that have one (NULL if none).
WITH per_split AS (
    SELECT
        v.trial,
        v.split,
        CASE $rule
            WHEN 'best' THEN CASE WHEN d.higher_is_better THEN max(v.value) ELSE min(v.value) END
            WHEN 'last' THEN arg_max(v.value, v.epoch)
            WHEN 'mean' THEN avg(v.value)
        END AS score
    FROM _metric_values AS v
    JOIN _metric_scope AS d
        ON d.project = v.project AND d.client = v.client AND d.round = v.round
        AND d.trial = v.trial AND d.split = v.split AND d.metric = v.metric
    JOIN _scope_state AS s
        ON s.level = 'split' AND s.status = 'SUCCESS' AND s.project = v.project
        AND s.client = v.client AND s.round = v.round AND s.trial = v.trial
        AND s.split = v.split
    WHERE v.project = $project AND v.client = $client AND v.round = $round
        AND v.metric = $metric AND v.phase = 'valid' AND v.split >= 0 AND isfinite(v.value)
    GROUP BY v.trial, v.split, d.higher_is_better
)
SELECT t.trial, t.hyperparams, avg(p.score) AS score, count(p.score) AS n_splits
FROM _scope_state AS t
LEFT JOIN per_split AS p ON p.trial = t.trial
WHERE t.project = $project AND t.client = $client AND t.round = $round
    AND t.level = 'trial' AND t.status = 'SUCCESS'
GROUP BY t.trial, t.hyperparams
ORDER BY t.trial
