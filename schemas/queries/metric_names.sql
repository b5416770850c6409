-- Metric names recorded in the validation splits of one round (or of one
-- trial, or one split), in first-seen order: by trial, then split, then name.
SELECT metric
FROM events
WHERE project = $project AND client = $client AND round = $round
  AND level = 'metric' AND split >= 0
  AND ($trial IS NULL OR trial = $trial)
  AND ($split IS NULL OR split = $split)
GROUP BY metric
ORDER BY min([trial, split]), metric
