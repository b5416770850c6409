-- round_trials: one row per trial of the round, in trial order; times in ms
-- since the epoch (UTC).
SELECT
    trial,
    status,
    score,
    n_epochs_to_best,
    n_splits,
    epoch_ms(started_at) AS started_at_ms,
    epoch_ms(ended_at) AS ended_at_ms,
    error
FROM trials
WHERE project = $project AND client = $client AND round = $round
ORDER BY trial
