-- A new incident that matches a known candidate problem joins it as it is triaged, without
-- waiting for the next clustering pass; its triage row names the problem, and flags it when
-- the problem is growing fast (possibly part of a major incident).
ALTER TABLE triage_results ADD COLUMN problem_id INTEGER REFERENCES problems (id);
ALTER TABLE triage_results ADD COLUMN major_incident INTEGER NOT NULL DEFAULT 0;
