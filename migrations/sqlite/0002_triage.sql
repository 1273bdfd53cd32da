-- What triage decided for a ticket, one row per (ticket, model version), so that a replayed
-- batch overwrites its own row instead of adding one. The ticket's own fields are filled from
-- here only when they were empty; `*_status` says which: 'applied' (we filled it), 'kept' (a
-- person had set it), 'needs_review' (below the team's threshold) or 'none' (no prediction).
-- `evidence` is JSON: the nearest past tickets that voted, with their labels and similarity.
CREATE TABLE triage_results (
    ticket_id           INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    model_version       TEXT NOT NULL,
    outcome             TEXT NOT NULL CHECK (outcome IN ('applied', 'needs_review', 'skipped')),
    reason              TEXT,
    category            TEXT,
    category_confidence REAL,
    category_status     TEXT NOT NULL,
    urgency             TEXT,
    urgency_confidence  REAL,
    urgency_status      TEXT NOT NULL,
    priority            TEXT,
    evidence            TEXT NOT NULL DEFAULT '[]',
    triaged_at          TEXT NOT NULL,
    PRIMARY KEY (ticket_id, model_version)
);

CREATE INDEX triage_results_outcome ON triage_results (outcome);
