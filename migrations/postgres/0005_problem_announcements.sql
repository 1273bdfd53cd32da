-- As SQLite migration 0012. Known issues before filing: a problem manager announces a problem
-- to end users with a public title and, optionally, a workaround, written for them: nothing
-- else of the problem reaches the public side. Withdrawing deletes the row, so the
-- announcement is gone from the next answer.
CREATE TABLE problem_announcements (
    problem_id    BIGINT PRIMARY KEY REFERENCES problems (id) ON DELETE CASCADE,
    public_title  TEXT NOT NULL,
    workaround    TEXT,
    announced_at  TEXT NOT NULL
);

-- Each problem's centre (unit-length mean of its incidents' embeddings, little-endian f32s, as
-- in `embeddings.vector`), written by every clustering pass: `serve` matches questions to
-- announced problems by it. Problems saved before this have none until the next pass.
ALTER TABLE problems ADD COLUMN centre BYTEA;

-- The announced problems a before-filing answer showed (JSON list of problem ids): answers that
-- were a known issue count in the deflection figures.
ALTER TABLE public_answers ADD COLUMN known_issues TEXT NOT NULL DEFAULT '[]';
