-- What ticketlens wrote to an outside ticket system that gives no transaction to share (a REST
-- API such as Zammad's): one row per write, keyed by what it was for (a ticket's note for one
-- text, a candidate problem's parent ticket, a link), holding the id the system gave it. Written
-- in the same transaction as the batch's acknowledgement, after the system took the write; a
-- crash between the two leaves no row, and the system is then asked before writing again.
CREATE TABLE system_writes (
    source      TEXT NOT NULL,
    item        TEXT NOT NULL,
    external_id TEXT NOT NULL,
    written_at  TEXT NOT NULL,
    PRIMARY KEY (source, item)
);
