-- Why the core (or its config test) refused to apply a key, while it stays pending. NULL
-- when nothing was refused; cleared when the key is applied.
ALTER TABLE keys ADD COLUMN apply_error TEXT;
