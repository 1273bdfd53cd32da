-- Review decisions on candidate problems. A rejected candidate remembers its size when it was
-- rejected: the same pattern is proposed again only if it grows well past it.
ALTER TABLE problems ADD COLUMN rejected_size INTEGER;
ALTER TABLE problems ADD COLUMN reviewed_at TEXT;
