-- How far ticketlens has read an outside ticket system (GLPI) into its own tables: the latest
-- change time seen, as RFC 3339 text. Each pass reads again from a little before it, and only
-- a ticket whose subject, body, kind or status differs is queued again.
CREATE TABLE source_cursors (
    source      TEXT PRIMARY KEY,
    position    TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
