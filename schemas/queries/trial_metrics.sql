-- Every metric of one trial: its direction, score and mean epochs to best.
SELECT metric, higher_is_better, score, n_epochs_to_best
FROM _trial_metric
WHERE project = $project AND client = $client AND round = $round AND trial = $trial
ORDER BY metric
