-- trial_splits: the trial's splits (the retrain split is -1) with their scores.
SELECT
    split, status, score, n_epochs_to_best,
    epoch_ms(started_at) AS started_at_ms,
    epoch_ms(ended_at) AS ended_at_ms,
    error
FROM splits
WHERE project = $project AND client = $client AND round = $round AND trial = $trial
ORDER BY split
