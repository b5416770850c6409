-- As cli_best, with each SUCCESS validation split scored by $rule over its
-- finite validation values of the round's main metric: 'last' (the value of
-- its latest epoch) or 'mean' (the mean over its epochs); a trial's score is
-- the mean over its splits that have one.
WITH chosen_rounds AS (
    SELECT project, client, round, main_metric_name, higher_is_better
    FROM rounds
    WHERE ($project IS NULL OR project = $project)
        AND ($client IS NULL OR client = $client)
        AND ($round IS NULL OR round = $round)
    QUALIFY $round IS NOT NULL OR round = max(round) OVER (PARTITION BY project, client)
),
per_split AS (
    SELECT
        m.project, m.client, m.round, m.trial, m.split,
        CASE $rule WHEN 'last' THEN arg_max(m.value, m.epoch) ELSE avg(m.value) END AS score
    FROM metrics AS m
    JOIN chosen_rounds AS r
        ON r.project = m.project AND r.client = m.client AND r.round = m.round
        AND r.main_metric_name = m.metric
    JOIN splits AS s
        ON s.project = m.project AND s.client = m.client AND s.round = m.round
        AND s.trial = m.trial AND s.split = m.split AND s.status = 'SUCCESS'
    WHERE m.phase = 'valid' AND m.split >= 0 AND isfinite(m.value)
    GROUP BY m.project, m.client, m.round, m.trial, m.split
),
per_trial AS (
    SELECT project, client, round, trial, avg(score) AS score, count(*) AS n_scored_splits
    FROM per_split
    GROUP BY project, client, round, trial
),
ranked AS (
    SELECT
        t.project,
        t.client,
        t.round,
        r.main_metric_name AS metric,
        row_number() OVER (
            PARTITION BY t.project, t.client, t.round
            ORDER BY CASE WHEN r.higher_is_better THEN -p.score ELSE p.score END, t.trial
        ) AS rank,
        t.trial,
        p.score,
        $rule AS rule,
        t.n_splits,
        t.hyperparams
    FROM trials AS t
    JOIN chosen_rounds AS r
        ON r.project = t.project AND r.client = t.client AND r.round = t.round
    JOIN per_trial AS p
        ON p.project = t.project AND p.client = t.client AND p.round = t.round
        AND p.trial = t.trial
    WHERE t.status = 'SUCCESS' AND r.higher_is_better IS NOT NULL
)
SELECT *
FROM ranked
WHERE rank <= $top
ORDER BY project, client, round, rank
