-- RAM identity state. Timestamps are ISO-8601 UTC text ('YYYY-MM-DDThh:mm:ssZ'), which sorts
-- correctly. Entities are referenced by id so that users and groups can be renamed.

CREATE TABLE accounts (
    account_id  TEXT PRIMARY KEY,
    created_at  TEXT NOT NULL
);

CREATE TABLE users (
    user_id       TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL REFERENCES accounts (account_id),
    user_name     TEXT NOT NULL,
    display_name  TEXT,
    mobile_phone  TEXT,
    email         TEXT,
    comments      TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    last_login_at TEXT,
    UNIQUE (account_id, user_name)
);

CREATE TABLE access_keys (
    access_key_id     TEXT PRIMARY KEY,
    account_id        TEXT NOT NULL REFERENCES accounts (account_id),
    user_id           TEXT REFERENCES users (user_id),          -- NULL: the account's root key
    status            TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
    secret_ciphertext TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    last_used_at      TEXT
);
CREATE INDEX access_keys_owner ON access_keys (account_id, user_id);

CREATE TABLE user_groups (
    group_id    TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL REFERENCES accounts (account_id),
    group_name  TEXT NOT NULL,
    comments    TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (account_id, group_name)
);

CREATE TABLE memberships (
    group_id   TEXT NOT NULL REFERENCES user_groups (group_id),
    user_id    TEXT NOT NULL REFERENCES users (user_id),
    join_date  TEXT NOT NULL,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE roles (
    role_id              TEXT PRIMARY KEY,
    account_id           TEXT NOT NULL REFERENCES accounts (account_id),
    role_name            TEXT NOT NULL,
    name_key             TEXT NOT NULL,                         -- lower(role_name)
    arn                  TEXT NOT NULL,
    description          TEXT,
    trust_policy         TEXT NOT NULL,
    max_session_duration INTEGER NOT NULL,
    allow_console_login  INTEGER NOT NULL DEFAULT 0,
    tags                 TEXT NOT NULL DEFAULT '{}',           -- JSON object key -> value
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    UNIQUE (account_id, name_key)
);

CREATE TABLE policies (
    policy_pk          INTEGER PRIMARY KEY,
    account_id         TEXT REFERENCES accounts (account_id),   -- NULL: a System policy
    policy_name        TEXT NOT NULL,
    policy_type        TEXT NOT NULL CHECK (policy_type IN ('System', 'Custom')),
    description        TEXT,
    default_version_no INTEGER NOT NULL,
    last_version_no    INTEGER NOT NULL,
    tags               TEXT NOT NULL DEFAULT '{}',
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    CHECK ((policy_type = 'System') = (account_id IS NULL))
);
CREATE UNIQUE INDEX policies_custom_name ON policies (account_id, policy_type, policy_name);
CREATE UNIQUE INDEX policies_system_name ON policies (policy_name) WHERE account_id IS NULL;

CREATE TABLE policy_versions (
    policy_pk   INTEGER NOT NULL REFERENCES policies (policy_pk) ON DELETE CASCADE,
    version_no  INTEGER NOT NULL,
    document    TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (policy_pk, version_no)
);

-- principal_id is a user_id, group_id or role_id; existence is checked by the store.
CREATE TABLE attachments (
    account_id     TEXT NOT NULL REFERENCES accounts (account_id),
    principal_type TEXT NOT NULL CHECK (principal_type IN ('User', 'Group', 'Role')),
    principal_id   TEXT NOT NULL,
    policy_pk      INTEGER NOT NULL REFERENCES policies (policy_pk),
    attach_date    TEXT NOT NULL,
    PRIMARY KEY (principal_type, principal_id, policy_pk)
);
CREATE INDEX attachments_policy ON attachments (policy_pk, account_id);

CREATE TABLE settings (
    name   TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);
