/**
 * Migration 1 of the PostgreSQL schema (migrations.ts): everything SQLite's
 * migrations 1 to 3 hold, as the first release with PostgreSQL created it.
 * Shipped: never edit it; later changes are the next migrations.
 */
export const INITIAL_SCHEMA = `
  CREATE TABLE organizations (
    id TEXT COLLATE "C" PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
  );

  CREATE TABLE projects (
    organization_id TEXT COLLATE "C" NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    id TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    audience TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, id)
  );
  -- An audience names one project: a resource server that checks only the
  -- audience must never accept another project's tokens.
  CREATE UNIQUE INDEX projects_audience ON projects(audience);

  CREATE TABLE signing_keys (
    kid TEXT COLLATE "C" PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    alg TEXT NOT NULL,
    private_jwk TEXT NOT NULL,
    public_jwk TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT,
    -- For a retired key: when the last token it may have signed expires.
    expires_at BIGINT,
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  );
  CREATE INDEX signing_keys_project ON signing_keys(organization_id, project_id);

  CREATE TABLE clients (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('confidential', 'public')),
    secret_hash TEXT,
    redirect_uris TEXT[] NOT NULL,
    grant_types TEXT[] NOT NULL,
    pkce_required BOOLEAN NOT NULL,
    remember_consent BOOLEAN NOT NULL DEFAULT false,
    access_token_ttl INTEGER NOT NULL,
    refresh_token_ttl INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, project_id, id),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  );

  CREATE TABLE users (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    name TEXT NOT NULL,
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, project_id, id),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  );

  CREATE TABLE permissions (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL,
    PRIMARY KEY (organization_id, project_id, id),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  );

  CREATE TABLE roles (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    id TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL,
    PRIMARY KEY (organization_id, project_id, id),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  );

  CREATE TABLE role_permissions (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    role_id TEXT COLLATE "C" NOT NULL,
    permission_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (organization_id, project_id, role_id, permission_id),
    FOREIGN KEY (organization_id, project_id, role_id) REFERENCES roles(organization_id, project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, project_id, permission_id) REFERENCES permissions(organization_id, project_id, id) ON DELETE CASCADE
  );
  CREATE INDEX role_permissions_permission ON role_permissions(organization_id, project_id, permission_id);

  CREATE TABLE user_roles (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    role_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (organization_id, project_id, user_id, role_id),
    FOREIGN KEY (organization_id, project_id, user_id) REFERENCES users(organization_id, project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, project_id, role_id) REFERENCES roles(organization_id, project_id, id) ON DELETE CASCADE
  );
  CREATE INDEX user_roles_role ON user_roles(organization_id, project_id, role_id);

  CREATE TABLE client_roles (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    client_id TEXT COLLATE "C" NOT NULL,
    role_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (organization_id, project_id, client_id, role_id),
    FOREIGN KEY (organization_id, project_id, client_id) REFERENCES clients(organization_id, project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, project_id, role_id) REFERENCES roles(organization_id, project_id, id) ON DELETE CASCADE
  );
  CREATE INDEX client_roles_role ON client_roles(organization_id, project_id, role_id);

  CREATE TABLE authorization_requests (
    id_hash TEXT COLLATE "C" PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    client_id TEXT COLLATE "C" NOT NULL,
    redirect_uri TEXT NOT NULL,
    scopes TEXT[] NOT NULL,
    state TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    nonce TEXT NOT NULL,
    browser_binding_hash TEXT NOT NULL,
    user_id TEXT COLLATE "C",
    auth_time BIGINT,
    offered_scopes TEXT[],
    failed_logins INTEGER NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
  );
  CREATE INDEX authorization_requests_expiry ON authorization_requests(expires_at);
  CREATE INDEX authorization_requests_project ON authorization_requests(organization_id, project_id, client_id);

  CREATE TABLE authorization_codes (
    code_hash TEXT COLLATE "C" PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    client_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    redirect_uri TEXT NOT NULL,
    scopes TEXT[] NOT NULL,
    code_challenge TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    nonce TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT,
    grant_id TEXT COLLATE "C"
  );
  CREATE INDEX authorization_codes_expiry ON authorization_codes(expires_at);
  CREATE INDEX authorization_codes_project ON authorization_codes(organization_id, project_id, client_id);

  CREATE TABLE grants (
    id TEXT COLLATE "C" PRIMARY KEY,
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    client_id TEXT COLLATE "C" NOT NULL,
    -- 'user': a user authorized the client; 'client': the client acting for itself.
    kind TEXT NOT NULL CHECK (kind IN ('user', 'client')),
    user_id TEXT COLLATE "C" NOT NULL,
    scopes TEXT[] NOT NULL,
    auth_time BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT
  );
  CREATE INDEX grants_expiry ON grants(expires_at);
  CREATE INDEX grants_project_client ON grants(organization_id, project_id, client_id);
  CREATE INDEX grants_project_user ON grants(organization_id, project_id, user_id);

  CREATE TABLE refresh_tokens (
    token_hash TEXT COLLATE "C" PRIMARY KEY,
    grant_id TEXT COLLATE "C" NOT NULL REFERENCES grants(id) ON DELETE CASCADE,
    client_id TEXT COLLATE "C" NOT NULL,
    scopes TEXT[] NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    rotated_at BIGINT,
    -- The refresh token this one was issued in exchange for; NULL for the first of a family.
    parent_hash TEXT COLLATE "C"
  );
  CREATE INDEX refresh_tokens_parent ON refresh_tokens(parent_hash);
  CREATE INDEX refresh_tokens_grant ON refresh_tokens(grant_id);
  CREATE INDEX refresh_tokens_expiry ON refresh_tokens(expires_at);

  -- The scopes a user approved for a client that remembers consent.
  CREATE TABLE consents (
    organization_id TEXT COLLATE "C" NOT NULL,
    project_id TEXT COLLATE "C" NOT NULL,
    user_id TEXT COLLATE "C" NOT NULL,
    client_id TEXT COLLATE "C" NOT NULL,
    scopes TEXT[] NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (organization_id, project_id, user_id, client_id),
    FOREIGN KEY (organization_id, project_id, user_id) REFERENCES users(organization_id, project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, project_id, client_id) REFERENCES clients(organization_id, project_id, id) ON DELETE CASCADE
  );
  CREATE INDEX consents_client ON consents(organization_id, project_id, client_id);

  -- Failed sign-ins of one key (a username in a project, or a client
  -- address) in the current window, and the lockout they led to.
  CREATE TABLE login_failures (
    key TEXT COLLATE "C" PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_ends_at BIGINT NOT NULL,
    locked_until BIGINT NOT NULL
  );
  CREATE INDEX login_failures_expiry ON login_failures(window_ends_at);

  -- Every change to what administration owns, by any connection (raw SQL
  -- included), is announced on the channel iam_changes once its transaction
  -- commits, with the application_name of the connection that made it: each
  -- process drops what it keeps in memory of those tables when another one
  -- has changed them. Token state (grants, codes, refresh tokens, consents)
  -- announces nothing. No row is updated, so announcing takes no lock.
  CREATE FUNCTION iam_changed() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('iam_changes', coalesce(current_setting('application_name', true), ''));
    RETURN NULL;
  END $$;
  CREATE TRIGGER organizations_changed AFTER INSERT OR UPDATE OR DELETE ON organizations FOR EACH STATEMENT EXECUTE FUNCTION iam_changed();
  CREATE TRIGGER projects_changed AFTER INSERT OR UPDATE OR DELETE ON projects FOR EACH STATEMENT EXECUTE FUNCTION iam_changed();
  CREATE TRIGGER signing_keys_changed AFTER INSERT OR UPDATE OR DELETE ON signing_keys FOR EACH STATEMENT EXECUTE FUNCTION iam_changed();
  CREATE TRIGGER clients_changed AFTER INSERT OR UPDATE OR DELETE ON clients FOR EACH STATEMENT EXECUTE FUNCTION iam_changed();
  CREATE TRIGGER users_changed AFTER INSERT OR UPDATE OR DELETE ON users FOR EACH STATEMENT EXECUTE FUNCTION iam_changed();
  CREATE TRIGGER permissions_changed AFTER INSERT OR UPDATE OR DELETE ON permissions FOR EACH STATEMENT EXECUTE FUNCTION iam_changed();
  CREATE TRIGGER roles_changed AFTER INSERT OR UPDATE OR DELETE ON roles FOR EACH STATEMENT EXECUTE FUNCTION iam_changed();
  CREATE TRIGGER role_permissions_changed AFTER INSERT OR UPDATE OR DELETE ON role_permissions FOR EACH STATEMENT EXECUTE FUNCTION iam_changed();
  CREATE TRIGGER user_roles_changed AFTER INSERT OR UPDATE OR DELETE ON user_roles FOR EACH STATEMENT EXECUTE FUNCTION iam_changed();
  CREATE TRIGGER client_roles_changed AFTER INSERT OR UPDATE OR DELETE ON client_roles FOR EACH STATEMENT EXECUTE FUNCTION iam_changed();
  `;
