-- One round's main metric (from its latest round event) and creation time.
SELECT arg_max(main_metric_name, ("at", seq)) AS main_metric_name, min("at") AS created_at
FROM events
WHERE project = $project AND client = $client AND round = $round AND level = 'round'
