-- OSS metadata (buckets, objects, multipart uploads and parts); blobs live elsewhere under ids.
-- Object keys are TEXT under the BINARY collation, which compares the UTF-8 bytes (memcmp), so
-- the primary key order is the byte order that ListObjects needs and listings are range scans.
-- WITHOUT ROWID keeps each row inside its primary-key b-tree: a scan reads no second index.
-- CRC-64 values are unsigned 64-bit, stored as decimal TEXT (INTEGER is signed).

CREATE TABLE oss_buckets (
    name              TEXT PRIMARY KEY COLLATE BINARY,
    owner_account_id  TEXT NOT NULL,
    region            TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    acl               TEXT NOT NULL,
    storage_class     TEXT NOT NULL,
    policy            TEXT
) WITHOUT ROWID;
CREATE INDEX oss_buckets_owner ON oss_buckets (owner_account_id, name);

CREATE TABLE oss_objects (
    bucket              TEXT NOT NULL REFERENCES oss_buckets (name),
    object_key          TEXT NOT NULL COLLATE BINARY,
    blob_id             TEXT NOT NULL,
    size                INTEGER NOT NULL,
    etag                TEXT NOT NULL,
    crc64               TEXT NOT NULL,
    last_modified       TEXT NOT NULL,
    object_type         TEXT NOT NULL CHECK (object_type IN ('Normal', 'Multipart', 'Appendable')),
    content_type        TEXT NOT NULL,
    acl                 TEXT NOT NULL,
    storage_class       TEXT NOT NULL,
    user_meta           TEXT NOT NULL DEFAULT '[]',              -- JSON [[name, value], ...]
    cache_control       TEXT,
    content_disposition TEXT,
    content_encoding    TEXT,
    expires             TEXT,
    PRIMARY KEY (bucket, object_key)
) WITHOUT ROWID;
CREATE INDEX oss_objects_blob ON oss_objects (blob_id);

CREATE TABLE oss_uploads (
    bucket              TEXT NOT NULL REFERENCES oss_buckets (name),
    object_key          TEXT NOT NULL COLLATE BINARY,
    upload_id           TEXT NOT NULL,
    initiated           TEXT NOT NULL,
    owner_account_id    TEXT NOT NULL,
    content_type        TEXT NOT NULL,
    acl                 TEXT NOT NULL,
    storage_class       TEXT NOT NULL,
    user_meta           TEXT NOT NULL DEFAULT '[]',
    cache_control       TEXT,
    content_disposition TEXT,
    content_encoding    TEXT,
    expires             TEXT,
    PRIMARY KEY (bucket, object_key, upload_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX oss_uploads_id ON oss_uploads (upload_id);

CREATE TABLE oss_parts (
    upload_id      TEXT NOT NULL REFERENCES oss_uploads (upload_id),
    part_number    INTEGER NOT NULL,
    blob_id        TEXT NOT NULL,
    size           INTEGER NOT NULL,
    etag           TEXT NOT NULL,
    crc64          TEXT NOT NULL,
    last_modified  TEXT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
) WITHOUT ROWID;
CREATE INDEX oss_parts_blob ON oss_parts (blob_id);
