import { availableParallelism } from "node:os";
import { hash, verify } from "@node-rs/argon2";

export interface PasswordHashing {
  /** Hashes running now (never more than the limit given at creation). */
  readonly running: number;
  hash(password: string): Promise<string>;
  /** Verifies against a stored hash; on `undefined` it spends the same time and answers false. */
  verify(stored: string | undefined, password: string): Promise<boolean>;
}

/**
 * argon2id (RFC 9106) with the given cost. The parameters travel inside each
 * hash, so hashes made with another setting keep verifying. At most `limit`
 * hashes run at once (one per core by default), the others wait their turn:
 * each takes `memoryKib` of memory, and more at once than there are cores
 * would only share the cores, so a burst of sign-ins costs bounded memory
 * and the ones admitted finish sooner.
 */
export async function createPasswordHashing(
  memoryKib: number,
  iterations: number,
  limit = availableParallelism(),
): Promise<PasswordHashing> {
  const options = { memoryCost: memoryKib, timeCost: iterations, parallelism: 1 };
  let running = 0;
  const waiting: (() => void)[] = [];
  const bounded = async <T>(work: () => Promise<T>): Promise<T> => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await work();
    } finally {
      // The slot passes straight to the next waiter, or is given back.
      const next = waiting.shift();
      if (next !== undefined) next();
      else running--;
    }
  };
  // Verified against when the user does not exist, so that an unknown
  // username takes as long as a wrong password.
  const decoy = await hash("decoy password, never valid", options);
  return {
    get running() {
      return running;
    },
    hash: (password) => bounded(() => hash(password, options)),
    verify: (stored, password) =>
      bounded(async () => {
        try {
          const ok = await verify(stored ?? decoy, password);
          return ok && stored !== undefined;
        } catch {
          return false;
        }
      }),
  };
}
