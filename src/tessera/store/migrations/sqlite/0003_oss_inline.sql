-- Bodies of small objects (up to 64 KiB), kept in the metadata file beside their rows: a small
-- PutObject is then one transaction (row and body), committed with others in one fsync, and a
-- small GetObject opens no file. ``blob_id`` is the object's own blob id; the row is written in
-- the transaction that writes the object and deleted in the one that frees that blob id, so
-- an inline body can be neither torn nor orphaned. Larger bodies stay blob files.

CREATE TABLE oss_inline_blobs (
    blob_id  TEXT PRIMARY KEY NOT NULL,
    data     BLOB NOT NULL
);
