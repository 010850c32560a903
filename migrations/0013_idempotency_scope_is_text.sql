-- The scope is `<user>:<METHOD> <route>`. An admin's user id (a JWT sub) has no length limit, so a
-- long one overflowed varchar(255) and its request was refused (400, value too long) though nothing was wrong with it.
ALTER TABLE "idempotency_keys" ALTER COLUMN "scope" SET DATA TYPE text;