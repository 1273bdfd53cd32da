-- Knowledge articles. 'public' ones may be shown to end users; 'internal' ones are runbooks for
-- agents and never leave the agents' side.
CREATE TABLE articles (
    id          INTEGER PRIMARY KEY,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    category    TEXT,
    visibility  TEXT NOT NULL DEFAULT 'internal' CHECK (visibility IN ('public', 'internal')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Suggestions for a ticket: articles and similar resolved tickets, ranked. Keyed like triage
-- results, so that a replay replaces rather than duplicates.
CREATE TABLE suggestions (
    ticket_id     INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    model_version TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('article', 'ticket')),
    rank          INTEGER NOT NULL,
    target_id     INTEGER NOT NULL,
    score         REAL NOT NULL,
    PRIMARY KEY (ticket_id, model_version, kind, rank)
);
