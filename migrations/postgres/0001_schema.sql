-- ticketlens' native schema on PostgreSQL: the SQLite schema as its migrations 0001–0009 leave
-- it, in one step. From here on a change to the schema is a pair of migrations, one per
-- database, with the same meaning.
--
-- Types are the ones both databases read alike through one set of queries: BIGINT for every
-- integer, DOUBLE PRECISION for every real, TEXT for timestamps (RFC 3339 in UTC, which sorts
-- as time does), 0/1 BIGINTs for flags. Ids may be given (an import keeps its ticket numbers)
-- or left NULL; the trigger below fills them and keeps the sequence ahead of given ones.

CREATE FUNCTION ticketlens_fill_id() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    seq regclass := TG_ARGV[0]::regclass;
BEGIN
    IF NEW.id IS NULL THEN
        NEW.id := nextval(seq);
    ELSIF NEW.id > COALESCE(pg_sequence_last_value(seq), 0) THEN
        PERFORM setval(seq, NEW.id);
    END IF;
    RETURN NEW;
END;
$$;

-- Tickets as the help desk records them. `change_seq` numbers every insert and every edit of
-- what a person wrote (subject, body, kind, status); ticketlens' write-back touches none of
-- those, so it never queues the tickets it has just triaged.
CREATE SEQUENCE tickets_id_seq;
CREATE SEQUENCE ticket_changes;
CREATE TABLE tickets (
    id          BIGINT PRIMARY KEY,
    subject     TEXT,
    body        TEXT,
    requester   TEXT,
    kind        TEXT NOT NULL DEFAULT 'incident' CHECK (kind IN ('incident', 'request')),
    status      TEXT NOT NULL DEFAULT 'new'
                CHECK (status IN ('new', 'open', 'pending', 'resolved', 'closed')),
    category    TEXT,
    urgency     TEXT,
    impact      TEXT,
    priority    TEXT,
    resolution  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    resolved_at TEXT,
    change_seq  BIGINT
);
CREATE INDEX tickets_change_seq ON tickets (change_seq);
CREATE INDEX tickets_created_at ON tickets (created_at);
CREATE TRIGGER tickets_id BEFORE INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION ticketlens_fill_id('tickets_id_seq');

CREATE FUNCTION ticketlens_next_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.change_seq := nextval('ticket_changes');
    RETURN NEW;
END;
$$;
CREATE TRIGGER tickets_sequence_insert BEFORE INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION ticketlens_next_change();
CREATE TRIGGER tickets_sequence_update BEFORE UPDATE OF subject, body, kind, status ON tickets
    FOR EACH ROW EXECUTE FUNCTION ticketlens_next_change();

-- One row per (ticket, model version): a new model writes new rows, the old ones stay for
-- the report.
CREATE TABLE triage_results (
    ticket_id           BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    model_version       TEXT NOT NULL,
    outcome             TEXT NOT NULL CHECK (outcome IN ('applied', 'needs_review', 'skipped')),
    reason              TEXT,
    category            TEXT,
    category_confidence DOUBLE PRECISION,
    category_status     TEXT NOT NULL,
    urgency             TEXT,
    urgency_confidence  DOUBLE PRECISION,
    urgency_status      TEXT NOT NULL,
    priority            TEXT,
    evidence            TEXT NOT NULL DEFAULT '[]',
    triaged_at          TEXT NOT NULL,
    problem_id          BIGINT,
    major_incident      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (ticket_id, model_version)
);
CREATE INDEX triage_results_outcome ON triage_results (outcome);

CREATE SEQUENCE articles_id_seq;
CREATE TABLE articles (
    id          BIGINT PRIMARY KEY,
    title       TEXT NOT NULL,
    body        TEXT NOT NULL,
    category    TEXT,
    visibility  TEXT NOT NULL DEFAULT 'internal' CHECK (visibility IN ('public', 'internal')),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'published'
                CHECK (status IN ('published', 'draft', 'retired'))
);
CREATE TRIGGER articles_id BEFORE INSERT ON articles
    FOR EACH ROW EXECUTE FUNCTION ticketlens_fill_id('articles_id_seq');

CREATE TABLE suggestions (
    ticket_id     BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    model_version TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('article', 'ticket', 'duplicate')),
    rank          BIGINT NOT NULL,
    target_id     BIGINT NOT NULL,
    score         DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (ticket_id, model_version, kind, rank)
);

CREATE SEQUENCE problems_id_seq;
CREATE TABLE problems (
    id            BIGINT PRIMARY KEY,
    title         TEXT NOT NULL,
    keywords      TEXT NOT NULL DEFAULT '[]',
    status        TEXT NOT NULL DEFAULT 'candidate'
                  CHECK (status IN ('candidate', 'accepted', 'rejected', 'merged')),
    merged_into   BIGINT REFERENCES problems (id),
    size          BIGINT NOT NULL,
    requesters    BIGINT NOT NULL,
    first_seen    TEXT NOT NULL,
    last_seen     TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    rejected_size BIGINT,
    reviewed_at   TEXT,
    activity      TEXT,
    trend         DOUBLE PRECISION NOT NULL DEFAULT 1.0
);
CREATE TRIGGER problems_id BEFORE INSERT ON problems
    FOR EACH ROW EXECUTE FUNCTION ticketlens_fill_id('problems_id_seq');
ALTER TABLE triage_results ADD FOREIGN KEY (problem_id) REFERENCES problems (id);

CREATE TABLE problem_members (
    problem_id  BIGINT NOT NULL REFERENCES problems (id) ON DELETE CASCADE,
    ticket_id   BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    similarity  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (problem_id, ticket_id)
);

-- Embeddings already computed (see the SQLite migration 0005): valid for one owner, model
-- version and exact text; `vector` holds little-endian f32 values.
CREATE TABLE embeddings (
    owner_kind    TEXT NOT NULL
                  CHECK (owner_kind IN ('ticket', 'article', 'article_title', 'resolution')),
    owner_id      BIGINT NOT NULL,
    model_version TEXT NOT NULL,
    text_hash     TEXT NOT NULL,
    vector        BYTEA NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, model_version)
);

-- The pipelines working on this store. On PostgreSQL `position` is the latest change written,
-- for people; the work itself is in `ticket_work` (migration 0002).
CREATE TABLE pipeline_cursors (
    pipeline    TEXT PRIMARY KEY,
    position    BIGINT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE classifier_versions (
    version     TEXT PRIMARY KEY,
    trained_at  TEXT NOT NULL,
    trained_on  BIGINT NOT NULL,
    in_use      BIGINT NOT NULL CHECK (in_use IN (0, 1)),
    figures     TEXT NOT NULL,
    compared    TEXT
);

CREATE TABLE article_sources (
    article_id  BIGINT NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
    ticket_id   BIGINT NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    PRIMARY KEY (article_id, ticket_id)
);

CREATE SEQUENCE public_answers_id_seq;
CREATE TABLE public_answers (
    id            BIGINT PRIMARY KEY,
    asked_at      TEXT NOT NULL,
    query_chars   BIGINT NOT NULL,
    shown         TEXT NOT NULL DEFAULT '[]',
    helped        BIGINT CHECK (helped IN (0, 1)),
    answered_at   TEXT
);
CREATE TRIGGER public_answers_id BEFORE INSERT ON public_answers
    FOR EACH ROW EXECUTE FUNCTION ticketlens_fill_id('public_answers_id_seq');
