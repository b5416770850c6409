-- One round's main metric (its latest round event), creation time, and the
-- greatest clock of its events (NULL columns when the round has no event).
SELECT main_metric_name, created_at, last_clock
FROM _round_state
WHERE project = $project AND client = $client AND round = $round
