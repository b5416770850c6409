-- The best validation value of every metric of one trial's splits ($split:
-- one split, or NULL for all) and its epoch, in the splits' current records.
SELECT split, metric, higher_is_better, best, n_epochs_to_best
FROM _split_metric
WHERE project = $project AND client = $client AND round = $round AND trial = $trial
    AND ($split IS NULL OR split = $split)
ORDER BY split, metric
