/**
 * A value from the source's column type to the target's: SQLite keeps
 * booleans as INTEGER 0/1 and lists as JSON text where PostgreSQL has
 * BOOLEAN and TEXT[] (core/store/sqlite/sql.ts, postgres/sql.ts). Anything
 * else that does not fit is refused rather than guessed at.
 */
import { CopyRefused, type ColumnType } from "./shape.js";

export type Converter = (value: unknown) => unknown;


export function converter(from: ColumnType, to: ColumnType, where: string): Converter {
  const refuse = (value: unknown): never => {
    throw new CopyRefused(`${where} holds ${JSON.stringify(value)}, which is not a ${to}`);
  };
  const nullable = (fn: Converter): Converter => (value) => (value === null ? null : fn(value));
  if (from === to) {
    // A value read from a backup file is checked against its declared type as well.
    if (to === "integer") return nullable((v) => (Number.isSafeInteger(v) ? v : refuse(v)));
    if (to === "boolean") return nullable((v) => (typeof v === "boolean" ? v : refuse(v)));
    if (to === "text") return nullable((v) => (typeof v === "string" ? v : refuse(v)));
    return nullable((v) => (isList(v) ? v : refuse(v)));
  }
  if (from === "integer" && to === "boolean") return nullable((v) => (v === 0 ? false : v === 1 ? true : refuse(v)));
  if (from === "boolean" && to === "integer") return nullable((v) => (v === true ? 1 : v === false ? 0 : refuse(v)));
  if (from === "text" && to === "text[]") {
    return nullable((v) => {
      let list: unknown;
      try {
        list = JSON.parse(v as string);
      } catch {
        return refuse(v);
      }
      return isList(list) ? list : refuse(v);
    });
  }
  if (from === "text[]" && to === "text") return nullable((v) => (isList(v) ? JSON.stringify(v) : refuse(v)));
  throw new CopyRefused(`${where} is ${from} in the source and ${to} in the target: no conversion between them`);
}

const isList = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === "string");
