-- Up Migration

-- Where this store's rows were written: the cluster (pg_control_system()'s
-- system identifier) and the database in it. A pg_dump restored elsewhere
-- carries these values along, and the restored rows carry their xact_id from
-- the old cluster, which means nothing in the new one: the analytics sync
-- orders and bounds its reads by xact_id (change-feed.ts), so such rows would
-- wait until the new cluster's counter passed them, or be skipped by a cursor
-- already past the new rows. store-origin.ts compares these columns with
-- where the store now runs and, on a change, gives every row a new xact_id.
-- Null until a process first records them.
ALTER TABLE store_identity ADD COLUMN system_identifier text, ADD COLUMN database_oid oid;

-- Down Migration
ALTER TABLE store_identity DROP COLUMN system_identifier, DROP COLUMN database_oid;
