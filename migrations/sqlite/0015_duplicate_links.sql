-- Tickets a person said report the same thing as an earlier one: a duplicate link in the ticket
-- system, or `duplicate_of` in an import or a posted ticket. Similar-ticket search learns from
-- them how much shared words count beside the embeddings (see `knowledge::fusion`). Both ends
-- are tickets of this store; the link goes from the duplicate to the ticket it duplicates.
CREATE TABLE duplicate_links (
    ticket_id    INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    duplicate_of INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    PRIMARY KEY (ticket_id, duplicate_of)
);
