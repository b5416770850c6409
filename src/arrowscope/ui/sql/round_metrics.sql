-- round_metrics: the metric and phase pairs the round's validation splits
-- logged, with how many values each.
SELECT metric, phase, count(*) AS n_values
FROM metrics
WHERE project = $project AND client = $client AND round = $round AND split >= 0
GROUP BY metric, phase
ORDER BY metric, phase
