/**
 * Module hooks (register.mjs): the compiled core/audit/record.js is served
 * with its three recording functions replaced by ones that write nothing.
 * `audited` still runs its change in a transaction, as the change needs;
 * everything else is the real module's, loaded under another URL.
 */
const RECORDER = "/dist/core/audit/record.js";
const REPLACED = ["audited", "recordSuccess", "recordRefusal"];
const REAL = "?with-events";

export async function load(url, context, nextLoad) {
  const parsed = new URL(url);
  if (!parsed.pathname.endsWith(RECORDER) || parsed.search === REAL) return nextLoad(url, context);
  const real = JSON.stringify(`${url}${REAL}`);
  const source = `
import * as real from ${real};
export * from ${real};
for (const name of ${JSON.stringify(REPLACED)}) {
  if (typeof real[name] !== "function") throw new Error("bench/without-audit: core/audit/record.js no longer exports " + name);
}
export const audited = (deps, change) => deps.store.transaction((tx) => change(tx));
export const recordSuccess = async () => {};
export const recordRefusal = async () => {};
`;
  return { format: "module", shortCircuit: true, source };
}
