/** The usage of `iam backup`, `iam restore` and `iam migrate-store` (kept apart so that `iam` loads the rest only when asked). */
export const STORE_USAGE = `copies of the database (docs/backup.md):
  iam backup FILE [--force]
      a consistent copy of IAM_DB (SQLite file or PostgreSQL URL) while it serves, checked
      after writing; --force replaces an existing FILE
  iam restore FILE [--force [--replace-deployment]]
      loads a backup into IAM_DB, which must be empty; --force replaces a database of the
      same deployment, --replace-deployment one of another deployment
  iam migrate-store --from DB --to DB
      copies one database (SQLite file or PostgreSQL URL) into another, empty one`;
