/** Failed sign-ins counted per key, and the lockouts they lead to (LoginThrottleStore). */
import type Database from "better-sqlite3";
import type { Synchronous } from "../backend.js";
import type { LoginThrottleStore } from "../types.js";
import { atomically, type Row } from "./sql.js";

export function throttle(db: Database.Database): Synchronous<LoginThrottleStore> {
  const s = (sql: string) => db.prepare(sql);
  const q = {
    getLoginFailures: s("SELECT * FROM login_failures WHERE key = ?"),
    putLoginFailures: s(`INSERT INTO login_failures (key, failures, window_ends_at, locked_until) VALUES (?, ?, ?, ?)
      ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, window_ends_at = excluded.window_ends_at,
      locked_until = excluded.locked_until`),
    deleteLoginFailures: s("DELETE FROM login_failures WHERE key = ?"),
  };
  const tx = atomically(db);

  return {
    lockedUntil: (keys, now) =>
      keys.reduce((latest, key) => {
        const row = q.getLoginFailures.get(key) as Row | undefined;
        const until = row === undefined ? 0 : (row.locked_until as number);
        return until > now && until > latest ? until : latest;
      }, 0),
    recordLoginFailure: (key, now, policy) =>
      tx(() => {
        const row = q.getLoginFailures.get(key) as Row | undefined;
        // A new window starts once the last one ended (a lockout ends its window too).
        const fresh = row === undefined || (row.window_ends_at as number) <= now;
        const failures = fresh ? 1 : (row.failures as number) + 1;
        const windowEndsAt = fresh ? now + policy.windowSeconds : (row.window_ends_at as number);
        const lockedUntil = failures >= policy.maxFailures ? now + policy.lockoutSeconds : 0;
        q.putLoginFailures.run(key, failures, lockedUntil > 0 ? lockedUntil : windowEndsAt, lockedUntil);
        return { failures, lockedUntil };
      }),
    clearLoginFailures: (key) => {
      q.deleteLoginFailures.run(key);
    },
  };
}
