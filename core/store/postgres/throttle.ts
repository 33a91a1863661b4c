/** Failed sign-ins counted per key, and the lockouts they lead to (LoginThrottleStore). */
import type { LoginThrottleStore } from "../types.js";
import type { Sql } from "./sql.js";

export function throttle(sql: Sql): LoginThrottleStore {
  const { run, one } = sql;

  return {
    lockedUntil: async (keys, now) =>
      ((await one("SELECT coalesce(max(locked_until), 0) AS until FROM login_failures WHERE key = ANY($1::text[]) AND locked_until > $2::bigint", [
        [...keys],
        now,
      ]))!.until as number),
    // One upsert: failures counted at once by several replicas all count. A
    // new window starts once the last one ended (a lockout ends its window too).
    recordLoginFailure: async (key, now, policy) => {
      const row = (await one(
        `INSERT INTO login_failures AS f (key, failures, window_ends_at, locked_until)
          VALUES ($1, 1, CASE WHEN 1 >= $3::int THEN $2::bigint + $5::bigint ELSE $2::bigint + $4::bigint END, CASE WHEN 1 >= $3::int THEN $2::bigint + $5::bigint ELSE 0 END)
          ON CONFLICT (key) DO UPDATE SET
            failures = CASE WHEN f.window_ends_at <= $2::bigint THEN 1 ELSE f.failures + 1 END,
            window_ends_at = CASE
              WHEN (CASE WHEN f.window_ends_at <= $2::bigint THEN 1 ELSE f.failures + 1 END) >= $3::int THEN $2::bigint + $5::bigint
              WHEN f.window_ends_at <= $2::bigint THEN $2::bigint + $4::bigint
              ELSE f.window_ends_at END,
            locked_until = CASE
              WHEN (CASE WHEN f.window_ends_at <= $2::bigint THEN 1 ELSE f.failures + 1 END) >= $3::int THEN $2::bigint + $5::bigint
              ELSE 0 END
          RETURNING failures, locked_until`,
        [key, now, policy.maxFailures, policy.windowSeconds, policy.lockoutSeconds],
      ))!;
      return { failures: row.failures as number, lockedUntil: row.locked_until as number };
    },
    clearLoginFailures: async (key) => {
      await run("DELETE FROM login_failures WHERE key = $1", [key]);
    },
  };
}
