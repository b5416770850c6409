-- The direction of $metric in one round (no row when no trial recorded it).
SELECT higher_is_better
FROM _metric_direction
WHERE project = $project AND client = $client AND round = $round AND metric = $metric
