/**
 * The schema, as numbered migrations. Each runs once, in order, inside a
 * transaction; `PRAGMA user_version` records the last one applied. Never edit
 * a migration that has shipped: add the next one.
 */
import { INITIAL_SCHEMA } from "./initial-schema.js";
import { METADATA_DOCUMENTS, REGISTRATION, RESOURCES, TOKEN_EXCHANGE } from "./registries-schema.js";

export const migrations: readonly string[] = [
  // 1: tenants, clients, users, access model, keys, and the authorization code flow.
  INITIAL_SCHEMA,
  // 2: remembered consent, and failed sign-ins per user and per client address.
  `
  ALTER TABLE clients ADD COLUMN remember_consent INTEGER NOT NULL DEFAULT 0;

  -- The scopes a user approved for a client that remembers consent.
  CREATE TABLE consents (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    scopes TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (organization_id, project_id, user_id, client_id),
    FOREIGN KEY (organization_id, project_id, user_id) REFERENCES users(organization_id, project_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, project_id, client_id) REFERENCES clients(organization_id, project_id, id) ON DELETE CASCADE
  ) STRICT;
  CREATE INDEX consents_client ON consents(organization_id, project_id, client_id);

  -- Failed sign-ins of one key (a username in a project, or a client
  -- address) in the current window, and the lockout they led to.
  CREATE TABLE login_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_ends_at INTEGER NOT NULL,
    locked_until INTEGER NOT NULL
  ) STRICT;
    `,
  // 3: a counter that every change to what administration owns moves, by
  // trigger, whichever connection or process makes it (raw SQL included), so
  // that a process can keep those records in memory and know at the cost of
  // one read when another process has changed them. Token state (grants,
  // codes, refresh tokens, consents) does not move it.
  `
  CREATE TABLE change_epoch (n INTEGER NOT NULL) STRICT;
  INSERT INTO change_epoch (n) VALUES (0);
  CREATE TRIGGER organizations_changed_insert AFTER INSERT ON organizations BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER organizations_changed_update AFTER UPDATE ON organizations BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER organizations_changed_delete AFTER DELETE ON organizations BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER projects_changed_insert AFTER INSERT ON projects BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER projects_changed_update AFTER UPDATE ON projects BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER projects_changed_delete AFTER DELETE ON projects BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER signing_keys_changed_insert AFTER INSERT ON signing_keys BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER signing_keys_changed_update AFTER UPDATE ON signing_keys BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER signing_keys_changed_delete AFTER DELETE ON signing_keys BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER clients_changed_insert AFTER INSERT ON clients BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER clients_changed_update AFTER UPDATE ON clients BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER clients_changed_delete AFTER DELETE ON clients BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER users_changed_insert AFTER INSERT ON users BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER users_changed_update AFTER UPDATE ON users BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER users_changed_delete AFTER DELETE ON users BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER permissions_changed_insert AFTER INSERT ON permissions BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER permissions_changed_update AFTER UPDATE ON permissions BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER permissions_changed_delete AFTER DELETE ON permissions BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER roles_changed_insert AFTER INSERT ON roles BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER roles_changed_update AFTER UPDATE ON roles BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER roles_changed_delete AFTER DELETE ON roles BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER role_permissions_changed_insert AFTER INSERT ON role_permissions BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER role_permissions_changed_update AFTER UPDATE ON role_permissions BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER role_permissions_changed_delete AFTER DELETE ON role_permissions BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER user_roles_changed_insert AFTER INSERT ON user_roles BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER user_roles_changed_update AFTER UPDATE ON user_roles BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER user_roles_changed_delete AFTER DELETE ON user_roles BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER client_roles_changed_insert AFTER INSERT ON client_roles BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER client_roles_changed_update AFTER UPDATE ON client_roles BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER client_roles_changed_delete AFTER DELETE ON client_roles BEGIN UPDATE change_epoch SET n = n + 1; END;
  `,
  // 4: single sign-on and the rest of OpenID Connect: sign-in sessions and
  // the logout deliveries told of their end; the OpenID request parameters
  // carried from request to code to grant; the clients' logout, ID token and
  // CORS settings; the users' standard claims; the projects' access token alg.
  `
  ALTER TABLE projects ADD COLUMN access_token_signing_alg TEXT NOT NULL DEFAULT 'ES256'
    CHECK (access_token_signing_alg IN ('ES256', 'RS256'));

  ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
  -- RS256 for every client, those that exist included: OpenID Connect
  -- Registration §2's default when a client registered no algorithm.
  ALTER TABLE clients ADD COLUMN id_token_signed_response_alg TEXT NOT NULL DEFAULT 'RS256'
    CHECK (id_token_signed_response_alg IN ('ES256', 'RS256'));
  ALTER TABLE clients ADD COLUMN web_origins TEXT NOT NULL DEFAULT '[]';

  ALTER TABLE users ADD COLUMN email_verified INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE users ADD COLUMN given_name TEXT NOT NULL DEFAULT '';
  ALTER TABLE users ADD COLUMN family_name TEXT NOT NULL DEFAULT '';

  ALTER TABLE authorization_requests ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
  ALTER TABLE authorization_requests ADD COLUMN acr TEXT NOT NULL DEFAULT '';
  ALTER TABLE authorization_requests ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE authorization_requests ADD COLUMN claims TEXT NOT NULL DEFAULT '';
  ALTER TABLE authorization_requests ADD COLUMN force_consent INTEGER NOT NULL DEFAULT 0;

  ALTER TABLE authorization_codes ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
  ALTER TABLE authorization_codes ADD COLUMN acr TEXT NOT NULL DEFAULT '';
  ALTER TABLE authorization_codes ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE authorization_codes ADD COLUMN claims TEXT NOT NULL DEFAULT '';

  ALTER TABLE grants ADD COLUMN session_id TEXT NOT NULL DEFAULT '';
  ALTER TABLE grants ADD COLUMN acr TEXT NOT NULL DEFAULT '';
  ALTER TABLE grants ADD COLUMN amr TEXT NOT NULL DEFAULT '[]';
  ALTER TABLE grants ADD COLUMN claims TEXT NOT NULL DEFAULT '';
  -- Ending a session revokes its grants. Only grants made in a session are
  -- indexed (client grants, the most numerous, have none); the statements
  -- that use it say session_id <> '' so that the planner may.
  CREATE INDEX grants_session ON grants(organization_id, project_id, session_id) WHERE session_id <> '';

  -- A browser signed in to a project. Only the SHA-256 of the cookie's
  -- secret is kept. The sessions go with their project and with their user.
  CREATE TABLE sessions (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    user_id TEXT NOT NULL,
    auth_time INTEGER NOT NULL,
    amr TEXT NOT NULL,
    acr TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    client_address TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    -- The clients it signed the user into, in the order it first did (JSON).
    clients TEXT NOT NULL,
    ended_at INTEGER,
    PRIMARY KEY (organization_id, project_id, id),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE,
    FOREIGN KEY (organization_id, project_id, user_id) REFERENCES users(organization_id, project_id, id) ON DELETE CASCADE
  ) STRICT;
  CREATE UNIQUE INDEX sessions_secret ON sessions(secret_hash);
  CREATE INDEX sessions_user ON sessions(organization_id, project_id, user_id);
  CREATE INDEX sessions_expiry ON sessions(expires_at);
  CREATE INDEX sessions_ended ON sessions(ended_at) WHERE ended_at IS NOT NULL;

  -- Each attempt to tell a client of a session's end (Back-Channel Logout
  -- 1.0 §2.5): kept beyond the session, for the operator, until purged.
  CREATE TABLE logout_deliveries (
    id INTEGER PRIMARY KEY,
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    uri TEXT NOT NULL,
    status INTEGER NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'failed')),
    attempts INTEGER NOT NULL,
    error TEXT NOT NULL,
    at INTEGER NOT NULL,
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  ) STRICT;
  CREATE INDEX logout_deliveries_session ON logout_deliveries(organization_id, project_id, session_id);
  CREATE INDEX logout_deliveries_at ON logout_deliveries(at);
  `,
  // 5: grants may be kept in memory (cached.ts): the change epoch moves when
  // a grant is revoked or deleted, by any connection or process, and when a
  // client grant is created or extended (its tokens are issued from the copy
  // in memory, of the latest one). A user grant's creation and extension
  // (each sign-in and refresh) leave it alone.
  `
  CREATE TRIGGER grants_revoked AFTER UPDATE OF revoked_at ON grants WHEN OLD.revoked_at IS NOT NEW.revoked_at
    BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER client_grants_created AFTER INSERT ON grants WHEN NEW.kind = 'client'
    BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER client_grants_extended AFTER UPDATE OF expires_at ON grants
    WHEN NEW.kind = 'client' AND OLD.expires_at IS NOT NEW.expires_at
    BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER grants_deleted AFTER DELETE ON grants BEGIN UPDATE change_epoch SET n = n + 1; END;
  `,
  // 6: the audit trail. One chain per project, and the server's (organization
  // and project ""), numbered without gaps and hashed (core/lib/audit-chain.ts).
  // No foreign keys: a chain outlives the project it records, deletion included.
  `
  CREATE TABLE audit_events (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    sequence INTEGER NOT NULL CHECK (sequence > 0),
    time_ms INTEGER NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
    reason TEXT NOT NULL,
    actor_kind TEXT NOT NULL,
    actor_id TEXT NOT NULL,
    actor_project TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT NOT NULL,
    client_address TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    request_id TEXT NOT NULL,
    -- The fields an administration change set (JSON).
    changes TEXT NOT NULL,
    grant_type TEXT NOT NULL,
    -- The scopes approved or granted (JSON).
    scopes TEXT NOT NULL,
    previous_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (organization_id, project_id, sequence)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX audit_events_time ON audit_events(organization_id, project_id, time_ms);
  -- Where a chain whose older events were purged begins: the last purged
  -- event's sequence and hash, signed by the server (one row per chain).
  CREATE TABLE audit_checkpoints (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    hash TEXT NOT NULL,
    signature TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (organization_id, project_id)
  ) STRICT;
  `,
  // 7: multi-factor sign-in. A user's second factors (TOTP authenticators
  // and passkeys) and recovery codes; the challenges of WebAuthn ceremonies
  // under way; each project's policy (administration's: it moves the epoch);
  // and the second step of a pending sign-in.
  `
  CREATE TABLE factors (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('totp', 'passkey')),
    name TEXT NOT NULL,
    secret TEXT NOT NULL,
    credential_id TEXT NOT NULL,
    counter INTEGER NOT NULL,
    transports TEXT NOT NULL,
    device_type TEXT NOT NULL,
    backed_up INTEGER NOT NULL,
    confirmed INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    PRIMARY KEY (organization_id, project_id, id),
    FOREIGN KEY (organization_id, project_id, user_id) REFERENCES users(organization_id, project_id, id) ON DELETE CASCADE
  ) STRICT;
  CREATE INDEX factors_user ON factors(organization_id, project_id, user_id);
  -- A credential id names one passkey in a project (TOTP factors have none).
  CREATE UNIQUE INDEX factors_credential ON factors(organization_id, project_id, credential_id) WHERE kind = 'passkey';
  CREATE TABLE recovery_codes (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    code_hash TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (organization_id, project_id, user_id, code_hash),
    FOREIGN KEY (organization_id, project_id, user_id) REFERENCES users(organization_id, project_id, id) ON DELETE CASCADE
  ) STRICT;
  CREATE TABLE ceremonies (
    challenge_hash TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    purpose TEXT NOT NULL CHECK (purpose IN ('register', 'authenticate')),
    request_id_hash TEXT NOT NULL,
    user_id TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX ceremonies_expires ON ceremonies(expires_at);
  CREATE TABLE mfa_policies (
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    required TEXT NOT NULL CHECK (required IN ('optional', 'everyone', 'roles')),
    roles TEXT NOT NULL,
    passwordless INTEGER NOT NULL,
    PRIMARY KEY (organization_id, project_id),
    FOREIGN KEY (organization_id, project_id) REFERENCES projects(organization_id, id) ON DELETE CASCADE
  ) STRICT;
  CREATE TRIGGER mfa_policies_changed_insert AFTER INSERT ON mfa_policies BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER mfa_policies_changed_update AFTER UPDATE ON mfa_policies BEGIN UPDATE change_epoch SET n = n + 1; END;
  CREATE TRIGGER mfa_policies_changed_delete AFTER DELETE ON mfa_policies BEGIN UPDATE change_epoch SET n = n + 1; END;
  ALTER TABLE authorization_requests ADD COLUMN mfa_requested INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE authorization_requests ADD COLUMN action TEXT NOT NULL DEFAULT '';
  ALTER TABLE authorization_requests ADD COLUMN factor_user_id TEXT;
  ALTER TABLE authorization_requests ADD COLUMN factor_stage TEXT NOT NULL DEFAULT '';
  ALTER TABLE authorization_requests ADD COLUMN factor_amr TEXT;
  ALTER TABLE authorization_requests ADD COLUMN factor_session_id TEXT NOT NULL DEFAULT '';
  `,
  // 8: administration of projects of many users. ListUsers finds users by
  // the beginning of their email (ids by the primary key), the index holding
  // the id for the page's order; the disabled users, few, are counted from a
  // partial index (enabled users are all users less them).
  `
  CREATE INDEX users_email ON users(organization_id, project_id, email, id);
  CREATE INDEX users_disabled ON users(organization_id, project_id) WHERE enabled = 0;
  `,
  // 9: DPoP (RFC 9449). The key a public client's grant is bound to (its
  // refresh tokens need a proof of it), the key an authorization request and
  // its code are bound to (dpop_jkt, §10), and the proofs seen, by the hash of
  // their key and jti, kept until they could no longer be accepted (§11.1).
  `
  ALTER TABLE grants ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
  ALTER TABLE authorization_requests ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
  ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT NOT NULL DEFAULT '';
  CREATE TABLE dpop_proofs (
    proof_hash TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX dpop_proofs_expiry ON dpop_proofs(expires_at);
  `,
  // 10: pushed authorization requests (RFC 9126): the parameters a client
  // pushed, under the hash of their request_uri, until used once or expired
  // (they go with their client); and whether a project or a client accepts
  // authorization requests only as pushed ones.
  `
  CREATE TABLE pushed_authorization_requests (
    uri_hash TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    -- The request's parameters by their names on the wire (JSON object).
    parameters TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    FOREIGN KEY (organization_id, project_id, client_id) REFERENCES clients(organization_id, project_id, id) ON DELETE CASCADE
  ) STRICT;
  CREATE INDEX pushed_authorization_requests_expiry ON pushed_authorization_requests(expires_at);
  CREATE INDEX pushed_authorization_requests_client ON pushed_authorization_requests(organization_id, project_id, client_id);
  ALTER TABLE projects ADD COLUMN require_pushed_authorization_requests INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE clients ADD COLUMN require_pushed_authorization_requests INTEGER NOT NULL DEFAULT 0;
  `,
  // 11: how a client authenticates (RFC 7591 §2 token_endpoint_auth_method,
  // '' for what its type implies), its public keys for private_key_jwt
  // (jwks, or jwks_uri), whether it must use DPoP (RFC 9449 §5.2), and the
  // security profile it is held to ('' or 'fapi2').
  `
  ALTER TABLE clients ADD COLUMN token_endpoint_auth_method TEXT NOT NULL DEFAULT '';
  ALTER TABLE clients ADD COLUMN jwks TEXT NOT NULL DEFAULT '';
  ALTER TABLE clients ADD COLUMN jwks_uri TEXT NOT NULL DEFAULT '';
  ALTER TABLE clients ADD COLUMN dpop_bound_access_tokens INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE clients ADD COLUMN security_profile TEXT NOT NULL DEFAULT '';
  `,
  // 12: what the database is (core/store/schema.ts): the deployment it
  // belongs to (a random id, carried by its backups and by a move to another
  // store), and the oldest schema whose iam-core can serve it. The release
  // before this one knows 11 migrations and serves this schema: it only adds.
  `
  CREATE TABLE iam_schema (
    deployment_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    oldest_compatible INTEGER NOT NULL
  ) STRICT;
  INSERT INTO iam_schema (deployment_id, created_at, oldest_compatible) VALUES (lower(hex(randomblob(16))), unixepoch() * 1000, 11);
  `,
  // 13 to 16 (registries-schema.ts): protected resources (RFC 8707), Dynamic Client Registration (RFC 7591,
  // RFC 7592), client ID metadata documents, token exchange (RFC 8693).
  RESOURCES,
  REGISTRATION,
  METADATA_DOCUMENTS,
  TOKEN_EXCHANGE,
];

/**
 * The oldest schema version whose iam-core can serve a database this one has
 * migrated: raised to N by a migration N that drops or changes what older
 * code reads (core/store/schema.ts).
 */
export const OLDEST_COMPATIBLE = 11;
