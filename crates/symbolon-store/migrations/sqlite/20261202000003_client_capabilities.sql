-- What a confidential client may do beyond its own tokens, space-separated names
-- (`introspect`). Clients registered before this existed keep what they could do:
-- every confidential client could introspect.
ALTER TABLE clients ADD COLUMN capabilities TEXT NOT NULL DEFAULT '';
UPDATE clients SET capabilities = 'introspect' WHERE secret_hash IS NOT NULL;
