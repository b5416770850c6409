-- Every metric of the splits of one trial ($split: one split, or NULL for
-- all), in the splits' current records: its declared direction and its
-- train and valid values in epoch order.
WITH vals AS (
    SELECT split, metric,
           list(value ORDER BY epoch) FILTER (WHERE phase = 'train') AS train,
           list(value ORDER BY epoch) FILTER (WHERE phase = 'valid') AS valid
    FROM _metric_values
    WHERE project = $project AND client = $client AND round = $round AND trial = $trial
        AND ($split IS NULL OR split = $split)
    GROUP BY split, metric
)
SELECT d.split, d.metric, d.higher_is_better,
       coalesce(v.train, []::DOUBLE[]) AS train,
       coalesce(v.valid, []::DOUBLE[]) AS valid
FROM _metric_scope AS d
LEFT JOIN vals AS v ON v.split = d.split AND v.metric = d.metric
WHERE d.project = $project AND d.client = $client AND d.round = $round AND d.trial = $trial
    AND ($split IS NULL OR d.split = $split)
ORDER BY d.split, d.metric
