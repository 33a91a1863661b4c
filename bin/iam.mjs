#!/usr/bin/env node
// The `iam` command of package.json: runs bin/iam.ts through tsx's loader.
import { register } from "tsx/esm/api";

register();
await import("./iam.ts");
