-- trial: one trial's row of the trials view; times in ms since the epoch.
SELECT
    trial, status, score, n_epochs_to_best, n_splits, hyperparams,
    epoch_ms(created_at) AS created_at_ms,
    epoch_ms(started_at) AS started_at_ms,
    epoch_ms(ended_at) AS ended_at_ms,
    error
FROM trials
WHERE project = $project AND client = $client AND round = $round AND trial = $trial
