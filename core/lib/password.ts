import { hash, verify } from "@node-rs/argon2";

export interface PasswordHashing {
  hash(password: string): Promise<string>;
  /** Verifies against a stored hash; on `undefined` it spends the same time and answers false. */
  verify(stored: string | undefined, password: string): Promise<boolean>;
}

/**
 * argon2id (RFC 9106) with the given cost. The parameters travel inside each
 * hash, so hashes made with another setting keep verifying.
 */
export async function createPasswordHashing(memoryKib: number, iterations: number): Promise<PasswordHashing> {
  const options = { memoryCost: memoryKib, timeCost: iterations, parallelism: 1 };
  // Verified against when the user does not exist, so that an unknown
  // username takes as long as a wrong password.
  const decoy = await hash("decoy password, never valid", options);
  return {
    hash: (password) => hash(password, options),
    verify: async (stored, password) => {
      try {
        const ok = await verify(stored ?? decoy, password);
        return ok && stored !== undefined;
      } catch {
        return false;
      }
    },
  };
}
