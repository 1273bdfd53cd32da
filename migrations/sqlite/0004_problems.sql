-- Candidate problems: clusters of recurring incidents. A problem keeps its id across clustering
-- runs (a new cluster is matched to the stored one it overlaps most), so a problem manager's
-- decision in `status` sticks.
CREATE TABLE problems (
    id           INTEGER PRIMARY KEY,
    title        TEXT NOT NULL,
    keywords     TEXT NOT NULL DEFAULT '[]',
    status       TEXT NOT NULL DEFAULT 'candidate'
                 CHECK (status IN ('candidate', 'accepted', 'rejected', 'merged')),
    merged_into  INTEGER REFERENCES problems (id),
    size         INTEGER NOT NULL,
    requesters   INTEGER NOT NULL,
    first_seen   TEXT NOT NULL,
    last_seen    TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

-- The incidents of a problem, with their cosine similarity to its centre.
CREATE TABLE problem_members (
    problem_id  INTEGER NOT NULL REFERENCES problems (id) ON DELETE CASCADE,
    ticket_id   INTEGER NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    similarity  REAL NOT NULL,
    PRIMARY KEY (problem_id, ticket_id)
);
