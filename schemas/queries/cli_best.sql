-- The $top best trials of each round matching $project, $client and $round
-- (NULL matches anything; without $round, the latest round of each client).
-- Only SUCCESS trials with a score are ranked, best first by the round's
-- direction, ties going to the lowest trial id.
WITH chosen_rounds AS (
    SELECT project, client, round, main_metric_name, higher_is_better
    FROM rounds
    WHERE ($project IS NULL OR project = $project)
        AND ($client IS NULL OR client = $client)
        AND ($round IS NULL OR round = $round)
    QUALIFY $round IS NOT NULL OR round = max(round) OVER (PARTITION BY project, client)
),
ranked AS (
    SELECT
        t.project,
        t.client,
        t.round,
        r.main_metric_name AS metric,
        row_number() OVER (
            PARTITION BY t.project, t.client, t.round
            ORDER BY CASE WHEN r.higher_is_better THEN -t.score ELSE t.score END, t.trial
        ) AS rank,
        t.trial,
        t.score,
        t.n_epochs_to_best,
        t.n_splits,
        t.hyperparams
    FROM trials AS t
    JOIN chosen_rounds AS r
        ON r.project = t.project AND r.client = t.client AND r.round = t.round
    WHERE t.status = 'SUCCESS' AND t.score IS NOT NULL AND r.higher_is_better IS NOT NULL
)
SELECT *
FROM ranked
WHERE rank <= $top
ORDER BY project, client, round, rank
