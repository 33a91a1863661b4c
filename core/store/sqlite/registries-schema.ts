/**
 * SQLite migrations 13 to 16 (migrations.ts lists them in order): what MCP
 * servers and agents need of a project: protected resources, clients that
 * register themselves, clients known by their metadata document, token
 * exchange. Each only adds.
 */

// 13: protected resources (RFC 8707): the APIs a project's clients ask
// tokens for by URI, and the scopes a token for each may carry; the
// resources an authorization request, its code and its grant are for
// (JSON lists, empty for the project's audience).
export const RESOURCES = `
  CREATE TABLE resources (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    uri TEXT NOT NULL,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (organization_id, project_id, uri),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  ) STRICT;
  -- A resource URI names one project, as an audience does: a resource
  -- server that checks only the audience never accepts another project's tokens.
  CREATE UNIQUE INDEX resources_uri ON resources(uri);
  CREATE TRIGGER resources_changed_insert AFTER INSERT ON resources BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER resources_changed_update AFTER UPDATE ON resources BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER resources_changed_delete AFTER DELETE ON resources BEGIN UPDATE change_epoch SET n = n + 1; END;
  ALTER TABLE authorization_requests ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE authorization_codes ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE grants ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
  `;

// 14: Dynamic Client Registration (RFC 7591, RFC 7592). Whether a project
// lets clients register themselves ('', 'open', 'initial_access_token');
// whether a client did; the hash of a registered client's registration
// access token and what it registered beyond the client's own columns
// (JSON object), which go with the client; and the initial access tokens
// an administrator gave out, by the hash of the token, which go with
// their project. Only adds: older servers serve it.
export const REGISTRATION = `
  ALTER TABLE projects ADD COLUMN client_registration TEXT NOT NULL DEFAULT '';
  ALTER TABLE clients ADD COLUMN dynamically_registered INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE client_registrations (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    metadata TEXT NOT NULL,
    PRIMARY KEY (organization_id, project_id, client_id),
    FOREIGN KEY (organization_id, project_id, client_id) REFERENCES clients(organization_id, project_id, id) ON DELETE CASCADE
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE initial_access_tokens (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    -- NULL: no limit but the expiry.
    uses_left INTEGER,
    max_uses INTEGER NOT NULL,
    PRIMARY KEY (organization_id, project_id, id),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  ) STRICT;
  CREATE INDEX initial_access_tokens_expiry ON initial_access_tokens(expires_at);
  `;

// 15: client ID metadata documents (draft-ietf-oauth-client-id-metadata-document):
// whether a project accepts them, which clients are a document's (kept in
// step with it, never an administrator's), and the administrators' rules
// (block a URL, or pin its document). It only adds.
export const METADATA_DOCUMENTS = `
  ALTER TABLE projects ADD COLUMN client_id_metadata_documents INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE clients ADD COLUMN metadata_document INTEGER NOT NULL DEFAULT 0;
  CREATE TABLE client_metadata_document_rules (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    url TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('block', 'pin')),
    document TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (organization_id, project_id, url),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  ) STRICT, WITHOUT ROWID;
  `;

// 16: token exchange (RFC 8693). Per client: whose users' tokens it may
// exchange, for which resources, whether it may impersonate (no `act`),
// and the client its user tokens name in `may_act`. Per grant: the grant
// of the subject token an exchanged grant hangs off, so that revoking it
// stops the exchanged tokens too ('' for none).
export const TOKEN_EXCHANGE = `
  ALTER TABLE clients ADD COLUMN token_exchange_subject_clients TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE clients ADD COLUMN token_exchange_resources TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE clients ADD COLUMN token_exchange_impersonation INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE clients ADD COLUMN may_act_client TEXT NOT NULL DEFAULT '';
  ALTER TABLE grants ADD COLUMN parent_grant_id TEXT NOT NULL DEFAULT '';
  `;
