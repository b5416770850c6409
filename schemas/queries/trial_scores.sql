-- Every trial of one round with its average validation score for $metric:
-- the mean, over its SUCCESS validation splits that logged a finite value,
-- of each split's best value (max or min by that split's direction).
-- The score is defined only for SUCCESS trials.
WITH ev AS (
    SELECT level, trial, split, metric, status, hyperparams, higher_is_better, "at", seq, writer
    FROM events
    WHERE project = $project AND client = $client AND round = $round
),
state AS (
    SELECT level, trial, split, status, hyperparams
    FROM ev
    WHERE level IN ('trial', 'split')
    QUALIFY row_number() OVER (
        PARTITION BY level, trial, split ORDER BY "at" DESC, seq DESC, writer DESC) = 1
),
direction AS (
    SELECT trial, split, coalesce(arg_min(higher_is_better, "at"), true) AS hib
    FROM ev
    WHERE level = 'metric' AND metric = $metric AND split >= 0
    GROUP BY trial, split
),
split_best AS (
    SELECT m.trial, m.split,
           CASE WHEN d.hib THEN max(m.value) ELSE min(m.value) END AS best
    FROM metrics m JOIN direction d ON d.trial = m.trial AND d.split = m.split
    WHERE m.project = $project AND m.client = $client AND m.round = $round
      AND m.metric = $metric AND m.phase = 'valid' AND m.split >= 0 AND isfinite(m.value)
    GROUP BY m.trial, m.split, d.hib
),
trial_score AS (
    SELECT b.trial, avg(b.best) AS score
    FROM split_best b
    JOIN state s ON s.level = 'split' AND s.trial = b.trial AND s.split = b.split
    WHERE s.status = 'SUCCESS'
    GROUP BY b.trial
)
SELECT t.trial, t.status, t.hyperparams,
       CASE WHEN t.status = 'SUCCESS' THEN ts.score END AS score
FROM state t LEFT JOIN trial_score ts ON ts.trial = t.trial
WHERE t.level = 'trial'
ORDER BY t.trial
