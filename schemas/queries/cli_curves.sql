-- One trial's learning curves (mean over its validation splits per epoch),
-- every metric or only $metric (NULL for all).
SELECT trial, metric, phase, epoch, value, n_splits
FROM curves
WHERE project = $project AND client = $client AND round = $round AND trial = $trial
    AND ($metric IS NULL OR metric = $metric)
ORDER BY metric, phase, epoch
