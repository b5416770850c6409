-- round: the round's row of the rounds view.
SELECT
    project, client, round, main_metric_name, higher_is_better, n_trials, n_success,
    best_trial, best_score, epoch_ms(created_at) AS created_at_ms
FROM rounds
WHERE project = $project AND client = $client AND round = $round
