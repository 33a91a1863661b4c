/** The copy's table of equivalent schema versions keeps up with both backends' migrations. */
import test from "ava";
import { equivalentVersion, KNOWN_VERSION, SQLITE_OF_POSTGRES } from "../../core/store/copy/shape.js";

test("every PostgreSQL migration has its SQLite equivalent, the newest ones each other's", (t) => {
  t.is(SQLITE_OF_POSTGRES.length, KNOWN_VERSION.postgres + 1, "a new PostgreSQL migration adds its SQLite version to SQLITE_OF_POSTGRES");
  t.is(SQLITE_OF_POSTGRES.at(-1), KNOWN_VERSION.sqlite, "a new SQLite migration is paired with PostgreSQL's");
  t.is(equivalentVersion("sqlite", KNOWN_VERSION.sqlite, "postgres"), KNOWN_VERSION.postgres);
  t.is(equivalentVersion("postgres", KNOWN_VERSION.postgres, "sqlite"), KNOWN_VERSION.sqlite);
  // SQLite 5 only added the change epoch's triggers: PostgreSQL 2 holds its tables.
  t.is(equivalentVersion("sqlite", 5, "postgres"), 2);
});
