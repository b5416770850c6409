-- round_scores: the scores of the round's SUCCESS trials, in trial order.
SELECT trial, score
FROM trials
WHERE project = $project AND client = $client AND round = $round
    AND status = 'SUCCESS' AND score IS NOT NULL
ORDER BY trial
