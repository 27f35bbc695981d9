-- PutObject of a key that does not exist yet, row and inline body in one INSERT statement: an
-- INSERT into this (always empty) view runs the trigger below, whose two INSERTs are part of
-- that one statement. A statement is atomic in SQLite (on any error, its changes are rolled
-- back and the transaction goes on), so the commit queue runs it without a savepoint of its
-- own: one statement per new small object instead of five (savepoint, checks, row, body,
-- release), each of which gave the GIL up on the server's event loop.
--
-- A missing bucket fails the row's foreign key; an existing key its primary key (the store
-- then takes the general path, which replaces the row and frees the old body). ``data`` NULL:
-- the body is a blob file, only the row is written.

CREATE VIEW oss_new_objects AS
    SELECT bucket, object_key, blob_id, size, etag, crc64, last_modified, object_type,
           content_type, acl, storage_class, user_meta, cache_control, content_disposition,
           content_encoding, expires, NULL AS data
    FROM oss_objects WHERE 0;

CREATE TRIGGER oss_new_objects_insert INSTEAD OF INSERT ON oss_new_objects
BEGIN
    INSERT INTO oss_objects (bucket, object_key, blob_id, size, etag, crc64, last_modified,
                             object_type, content_type, acl, storage_class, user_meta,
                             cache_control, content_disposition, content_encoding, expires)
    VALUES (NEW.bucket, NEW.object_key, NEW.blob_id, NEW.size, NEW.etag, NEW.crc64,
            NEW.last_modified, NEW.object_type, NEW.content_type, NEW.acl, NEW.storage_class,
            NEW.user_meta, NEW.cache_control, NEW.content_disposition, NEW.content_encoding,
            NEW.expires);
    INSERT INTO oss_inline_blobs (blob_id, data)
    SELECT NEW.blob_id, NEW.data WHERE NEW.data IS NOT NULL;
END;
