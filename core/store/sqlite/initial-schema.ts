/**
 * Migration 1 of the SQLite schema (migrations.ts): tenants, clients, users,
 * the access model, signing keys, and the authorization code flow, as the
 * first release created them. Shipped: never edit it; later changes are the
 * next migrations.
 */
export const INITIAL_SCHEMA = `
  CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE projects (
    organization_id TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    audience TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (organization_id, id)
  ) STRICT;

  -- An audience names one project: a resource server that checks only the
  -- audience must never accept another project's tokens.
  CREATE UNIQUE INDEX projects_audience ON projects(audience);

  CREATE TABLE signing_keys (
    kid TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    alg TEXT NOT NULL,
    private_jwk TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER,
    -- For a retired key: when the last token it may have signed expires.
    expires_at INTEGER,
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  ) STRICT;
  CREATE INDEX signing_keys_project ON signing_keys(organization_id, project_id);

  CREATE TABLE clients (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('confidential', 'public')),
    secret_hash TEXT,
    redirect_uris TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    pkce_required INTEGER NOT NULL,
    access_token_ttl INTEGER NOT NULL,
    refresh_token_ttl INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (organization_id, project_id, id),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  ) STRICT;

  CREATE TABLE users (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (organization_id, project_id, id),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  ) STRICT;

  CREATE TABLE permissions (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    description TEXT NOT NULL,
    PRIMARY KEY (organization_id, project_id, id),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  ) STRICT;

  CREATE TABLE roles (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    description TEXT NOT NULL,
    PRIMARY KEY (organization_id, project_id, id),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  ) STRICT;

  CREATE TABLE role_permissions (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    role_id TEXT NOT NULL,
    permission_id TEXT NOT NULL,
    PRIMARY KEY (organization_id, project_id, role_id, permission_id),
    FOREIGN KEY (organization_id, project_id, role_id) REFERENCES roles(organization_id, project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, project_id, permission_id) REFERENCES permissions(organization_id, project_id, id) ON DELETE CASCADE
  ) STRICT;

  CREATE TABLE user_roles (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    role_id TEXT NOT NULL,
    PRIMARY KEY (organization_id, project_id, user_id, role_id),
    FOREIGN KEY (organization_id, project_id, user_id) REFERENCES users(organization_id, project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, project_id, role_id) REFERENCES roles(organization_id, project_id, id) ON DELETE CASCADE
  ) STRICT;

  CREATE TABLE client_roles (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    role_id TEXT NOT NULL,
    PRIMARY KEY (organization_id, project_id, client_id, role_id),
    FOREIGN KEY (organization_id, project_id, client_id) REFERENCES clients(organization_id, project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, project_id, role_id) REFERENCES roles(organization_id, project_id, id) ON DELETE CASCADE
  ) STRICT;

  CREATE TABLE authorization_requests (
    id_hash TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scopes TEXT NOT NULL,
    state TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    nonce TEXT NOT NULL,
    browser_binding_hash TEXT NOT NULL,
    user_id TEXT,
    auth_time INTEGER,
    offered_scopes TEXT,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX authorization_requests_expiry ON authorization_requests(expires_at);
  CREATE INDEX authorization_requests_project ON authorization_requests(organization_id, project_id);

  CREATE TABLE authorization_codes (
    code_hash TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scopes TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    nonce TEXT NOT NULL,
    auth_time INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    consumed_at INTEGER,
    grant_id TEXT
  ) STRICT;
  CREATE INDEX authorization_codes_expiry ON authorization_codes(expires_at);
  CREATE INDEX authorization_codes_project ON authorization_codes(organization_id, project_id);

  CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    -- 'user': a user authorized the client; 'client': the client acting for itself.
    kind TEXT NOT NULL CHECK (kind IN ('user', 'client')),
    user_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    auth_time INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
  ) STRICT;
  CREATE INDEX grants_expiry ON grants(expires_at);
  CREATE INDEX grants_project_client ON grants(organization_id, project_id, client_id);
  CREATE INDEX grants_project_user ON grants(organization_id, project_id, user_id);

  CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id TEXT NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER,
    -- The refresh token this one was issued in exchange for; NULL for the first of a family.
    parent_hash TEXT
  ) STRICT;
  CREATE INDEX refresh_tokens_parent ON refresh_tokens(parent_hash);
  CREATE INDEX refresh_tokens_grant ON refresh_tokens(grant_id);
  CREATE INDEX refresh_tokens_expiry ON refresh_tokens(expires_at);
  `;
