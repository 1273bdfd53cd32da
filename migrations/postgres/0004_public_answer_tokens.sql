-- As SQLite migration 0011. A before-filing answer is refined and rated only by whoever holds
-- its token: 128 random bits handed to the person who asked, never a sequential id that anyone
-- could count through. The store keeps the token's SHA-256 (hex), looked up through this
-- index, so reading the table lets no one act for the asker. Answers recorded before this have
-- none: they can no longer be refined or rated.
ALTER TABLE public_answers ADD COLUMN token_digest TEXT;
CREATE UNIQUE INDEX public_answers_token_digest ON public_answers (token_digest);
