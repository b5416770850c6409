-- Metric names declared in the validation splits of one round (or of one
-- trial, or one split), in first-seen order: by trial, then split, then name.
SELECT metric
FROM _metric_scope
WHERE project = $project AND client = $client AND round = $round AND split >= 0
    AND ($trial IS NULL OR trial = $trial)
    AND ($split IS NULL OR split = $split)
GROUP BY metric
ORDER BY min([trial, split]), metric
