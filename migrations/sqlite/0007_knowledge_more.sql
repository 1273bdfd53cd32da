-- Knowledge, second step. SQLite cannot change a CHECK constraint in place, so the two tables
-- whose allowed kinds grow are rebuilt with their rows.

-- Embeddings of more than a ticket's or an article's text: an article's title alone (titles
-- are phrased like the questions people ask) and a ticket's resolution (what draft articles
-- are clustered on).
CREATE TABLE embeddings_new (
    owner_kind    TEXT NOT NULL
                  CHECK (owner_kind IN ('ticket', 'article', 'article_title', 'resolution')),
    owner_id      INTEGER NOT NULL,
    model_version TEXT NOT NULL,
    text_hash     TEXT NOT NULL,
    vector        BLOB NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, model_version)
);
INSERT INTO embeddings_new SELECT owner_kind, owner_id, model_version, text_hash, vector
FROM embeddings;
DROP TABLE embeddings;
ALTER TABLE embeddings_new RENAME TO embeddings;

-- 'duplicate': an open ticket so like this one that it may report the same thing.
CREATE TABLE suggestions_new (
    ticket_id     INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    model_version TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('article', 'ticket', 'duplicate')),
    rank          INTEGER NOT NULL,
    target_id     INTEGER NOT NULL,
    score         REAL NOT NULL,
    PRIMARY KEY (ticket_id, model_version, kind, rank)
);
INSERT INTO suggestions_new SELECT ticket_id, model_version, kind, rank, target_id, score
FROM suggestions;
DROP TABLE suggestions;
ALTER TABLE suggestions_new RENAME TO suggestions;

-- Draft articles written by ticketlens from resolved tickets that no article answers. A draft
-- is never suggested and never published by ticketlens: a knowledge manager edits it and
-- sets status 'published'.
ALTER TABLE articles ADD COLUMN status TEXT NOT NULL DEFAULT 'published'
    CHECK (status IN ('published', 'draft', 'retired'));

-- The resolved tickets a draft was written from.
CREATE TABLE article_sources (
    article_id  INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    PRIMARY KEY (article_id, ticket_id)
);

-- What end users were shown before filing, and whether they said it helped: the deflection
-- rate. The question itself is not kept (it is a person's text), only its length.
CREATE TABLE public_answers (
    id            INTEGER PRIMARY KEY,
    asked_at      TEXT NOT NULL,
    query_chars   INTEGER NOT NULL,
    shown         TEXT NOT NULL DEFAULT '[]',
    helped        INTEGER CHECK (helped IN (0, 1)),
    answered_at   TEXT
);
