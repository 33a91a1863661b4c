/**
 * What the password hash alone allows: argon2id verifications per second with
 * every core busy, nothing else running. The flow scenario is compared to it.
 *
 * Usage: node --import tsx bench/hash.mts <memoryKib> <iterations> <seconds>
 */
import { availableParallelism } from "node:os";
import { createPasswordHashing } from "../core/lib/password.js";

const [memoryKib, iterations, seconds] = process.argv.slice(2).map(Number) as [number, number, number];
const hashing = await createPasswordHashing(memoryKib, iterations);
const stored = await hashing.hash("correct horse battery staple");
let done = 0;
const deadline = performance.now() + seconds * 1000;
const start = performance.now();
// Twice as many in flight as cores, so that no core waits for the next one.
await Promise.all(
  Array.from({ length: availableParallelism() * 2 }, async () => {
    while (performance.now() < deadline) {
      if (!(await hashing.verify(stored, "correct horse battery staple"))) throw new Error("verify failed");
      done++;
    }
  }),
);
process.stdout.write(`${JSON.stringify({ rate: done / ((performance.now() - start) / 1000) })}\n`);
