-- As SQLite migration 0016. The live guard reads, per class, a model version's latest confident
-- predictions on resolved tickets (`Store::confident_outcomes`), every batch: by version, not
-- by a scan of all triage.
CREATE INDEX triage_results_version ON triage_results (model_version);
