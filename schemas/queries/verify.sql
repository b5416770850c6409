-- Splits whose recorded summary (_split_summary) disagrees with their values
-- (_split_metric_values), and, in directories of storage format 2, finished
-- splits that have no summary. One row per split x metric with a problem.
WITH checked AS (
    SELECT
        v.project, v.client, v.round, v.trial, v.split, v.metric,
        st.status,
        s.n_valid AS summary_n_valid, v.n_valid AS values_n_valid,
        s.best.value AS summary_best, v.best AS values_best,
        s.best.epoch AS summary_best_epoch, v.n_epochs_to_best AS values_best_epoch,
        s.last AS summary_last, v.last AS values_last,
        s.mean AS summary_mean, v.mean AS values_mean
    FROM _split_metric_values AS v
    JOIN _scope_state AS st
        ON st.level = 'split' AND st.project = v.project AND st.client = v.client
        AND st.round = v.round AND st.trial = v.trial AND st.split = v.split
    LEFT JOIN _split_summary AS s
        ON s.project = v.project AND s.client = v.client AND s.round = v.round
        AND s.trial = v.trial AND s.split = v.split AND s.metric = v.metric
)
SELECT
    *,
    CASE WHEN summary_n_valid IS NULL THEN 'finished without a summary'
         ELSE 'summary differs from the values' END AS problem
FROM checked
WHERE (summary_n_valid IS NULL
        AND status IN ('SUCCESS', 'FAILED', 'ABORTED')
        AND NOT coalesce(getvariable('arrowscope_format1'), false))
    OR (summary_n_valid IS NOT NULL AND (
        summary_n_valid <> values_n_valid
        OR summary_best IS DISTINCT FROM values_best
        OR summary_best_epoch IS DISTINCT FROM values_best_epoch
        OR summary_last IS DISTINCT FROM values_last
        OR NOT (summary_mean IS NOT DISTINCT FROM values_mean
            OR abs(summary_mean - values_mean) <= 1e-9 * greatest(1.0, abs(values_mean)))))
ORDER BY project, client, round, trial, split, metric
