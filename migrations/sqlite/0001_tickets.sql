-- Tickets as the help desk records them: the native schema for teams without a ticket store.
-- `change_seq` is the pipeline's stream position: a trigger gives every insert, and every edit
-- of what a person wrote (subject, body, kind, status), the next number. Clock-based cursors can
-- miss a row committed late with an early timestamp; a sequence handed out inside the writing
-- transaction cannot. ticketlens' own write-back touches none of those columns, so it never
-- re-queues the tickets it has just triaged.
CREATE TABLE tickets (
    id          INTEGER PRIMARY KEY,
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
    change_seq  INTEGER
);

CREATE INDEX tickets_change_seq ON tickets (change_seq);
CREATE INDEX tickets_created_at ON tickets (created_at);

CREATE TRIGGER tickets_sequence_insert AFTER INSERT ON tickets
BEGIN
    UPDATE tickets SET change_seq = (SELECT COALESCE(MAX(change_seq), 0) + 1 FROM tickets)
    WHERE id = NEW.id;
END;

CREATE TRIGGER tickets_sequence_update AFTER UPDATE OF subject, body, kind, status ON tickets
BEGIN
    UPDATE tickets SET change_seq = (SELECT COALESCE(MAX(change_seq), 0) + 1 FROM tickets)
    WHERE id = NEW.id;
END;
