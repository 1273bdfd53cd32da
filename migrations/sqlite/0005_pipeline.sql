-- Embeddings already computed, so history is embedded once. An entry is valid for one owner
-- (a ticket or an article), one model version and one text: `text_hash` is the sha256 of the
-- exact text embedded, and an edit makes the entry miss and be replaced. `vector` holds
-- little-endian f32 values.
CREATE TABLE embeddings (
    owner_kind    TEXT NOT NULL CHECK (owner_kind IN ('ticket', 'article')),
    owner_id      INTEGER NOT NULL,
    model_version TEXT NOT NULL,
    text_hash     TEXT NOT NULL,
    vector        BLOB NOT NULL,
    PRIMARY KEY (owner_kind, owner_id, model_version)
);

-- Where each pipeline is in the stream of ticket changes (a `tickets.change_seq`). It moves
-- only in the transaction that writes the batch's results.
CREATE TABLE pipeline_cursors (
    pipeline    TEXT PRIMARY KEY,
    position    INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
);
