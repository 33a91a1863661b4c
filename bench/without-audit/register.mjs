/**
 * `node --import ./bench/without-audit/register.mjs dist/bin/iam.js start`:
 * iam-core writing no audit event, the baseline against which the bench
 * measures what the audit trail costs (docs/performance.md). Never for a
 * deployment: the bench alone starts a server this way, and checks after its
 * runs that the server wrote no event and its twin with events wrote many.
 */
import { register } from "node:module";

register("./hooks.mjs", import.meta.url);
