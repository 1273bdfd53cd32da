-- Several workers on one store. Every change of a ticket (a new `change_seq`) is queued once
-- per registered pipeline; a worker leases rows (`lease_owner`, `lease_until`) with
-- `FOR UPDATE SKIP LOCKED` and deletes them in the transaction that writes their results.
-- A lease whose worker died runs out and the rows are taken again. Writers commit in any
-- order here, so a cursor over `change_seq` could pass a change that commits late; a queue
-- filled by the writing transaction itself cannot miss one.
CREATE TABLE ticket_work (
    pipeline    TEXT NOT NULL REFERENCES pipeline_cursors (pipeline) ON DELETE CASCADE,
    ticket_id   BIGINT NOT NULL,
    change_seq  BIGINT NOT NULL,
    lease_owner TEXT,
    lease_until TIMESTAMPTZ,
    PRIMARY KEY (pipeline, ticket_id)
);
CREATE INDEX ticket_work_next ON ticket_work (pipeline, change_seq);

-- A change re-queues a ticket for every pipeline and keeps a current lease (the worker that
-- holds it sees the new `change_seq` when it acknowledges, and leaves the row to be redone).
-- The NOTIFY reaches listening workers when the change commits.
CREATE FUNCTION ticketlens_queue_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ticket_work (pipeline, ticket_id, change_seq)
    SELECT pipeline, NEW.id, NEW.change_seq FROM pipeline_cursors
    ON CONFLICT (pipeline, ticket_id) DO UPDATE SET change_seq = EXCLUDED.change_seq;
    PERFORM pg_notify('ticketlens_changes', NEW.id::text);
    RETURN NULL;
END;
$$;
CREATE TRIGGER tickets_queue_insert AFTER INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION ticketlens_queue_change();
CREATE TRIGGER tickets_queue_update AFTER UPDATE OF subject, body, kind, status ON tickets
    FOR EACH ROW EXECUTE FUNCTION ticketlens_queue_change();

-- Periodic passes (clustering, drafting) that one worker at a time should run: a worker
-- takes a task until `until`; the others skip it meanwhile.
CREATE TABLE worker_tasks (
    task  TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    until TIMESTAMPTZ NOT NULL
);
