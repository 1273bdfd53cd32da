-- Tickets from any help desk, posted (`POST /v1/tickets`) or imported (`ticketlens import`),
-- carry that desk's own id: posting or importing the same ticket again updates it instead of
-- adding a copy. Unique where given; native tickets have none (NULLs never collide).
ALTER TABLE tickets ADD COLUMN external_id TEXT;
CREATE UNIQUE INDEX tickets_external_id ON tickets (external_id);
