-- Review decisions on candidate problems. A rejected candidate remembers its size when it was
-- rejected: the same pattern is proposed again only if it grows well past it.
ALTER TABLE problems ADD COLUMN rejected_size INTEGER;
ALTER TABLE problems ADD COLUMN reviewed_at TEXT;

-- How each problem moves in time: incidents per day over the last clustering window (JSON:
-- {"start": date, "per_day": [counts]}) and the trend (recent daily rate over the earlier
-- one, about 1 when steady). Problems are ranked by size × trend.
ALTER TABLE problems ADD COLUMN activity TEXT;
ALTER TABLE problems ADD COLUMN trend REAL NOT NULL DEFAULT 1.0;
