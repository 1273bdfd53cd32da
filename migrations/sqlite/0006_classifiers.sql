-- Every classifier version trained from the history: what it learned from, its figures on
-- held-out history (JSON, per field: accuracy, macro-F1, coverage at the target precision,
-- calibration error, per-class thresholds) and whether it was put in use. A candidate is put in
-- use only if it is no worse than the version in use on the labels that version never saw;
-- `compared` holds that comparison. Triage rows name the version that wrote them.
CREATE TABLE classifier_versions (
    version     TEXT PRIMARY KEY,
    trained_at  TEXT NOT NULL,
    trained_on  INTEGER NOT NULL,
    in_use      INTEGER NOT NULL CHECK (in_use IN (0, 1)),
    figures     TEXT NOT NULL,
    compared    TEXT
);

-- From this version on, `triage_results.evidence` is the whole verdict as JSON: per field the
-- label, confidence, threshold and the terms that weighed most, and `evidence`, the nearest
-- past tickets with their labels and similarity. `*_status` may also be 'shadow' (confident,
-- but the pipeline records without applying).
