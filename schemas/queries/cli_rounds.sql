-- The rounds matching the optional filters $project, $client and $round
-- (NULL matches anything). Without $round: the latest round of each client.
SELECT
    project,
    client,
    round,
    main_metric_name,
    higher_is_better,
    n_trials,
    n_success,
    best_trial,
    best_score
FROM rounds
WHERE ($project IS NULL OR project = $project)
    AND ($client IS NULL OR client = $client)
    AND ($round IS NULL OR round = $round)
QUALIFY $round IS NOT NULL OR round = max(round) OVER (PARTITION BY project, client)
ORDER BY project, client, round
