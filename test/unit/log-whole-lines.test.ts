/**
 * WholeLines (core/observe/log.ts): how a worker of several writes its log
 * lines to the stderr it shares with the others. Lines written in one turn
 * of the event loop leave in as few writes as possible, each made of whole
 * lines and at most PIPE_BUF bytes (a pipe takes such a write at once, so
 * no other worker's line can land inside it), in the order written.
 */
import test from "ava";
import { WholeLines } from "../../core/observe/log.js";

const turn = () => new Promise((resolve) => setImmediate(resolve));
const line = (i: number, size = 100) => `{"n":${i},"pad":"${"x".repeat(size)}"}\n`;

test("lines written in one turn leave together, whole, in order, no write over 4,096 bytes", async (t) => {
  const writes: string[] = [];
  const out = new WholeLines({ write: (chunk) => writes.push(chunk) });
  const lines = Array.from({ length: 100 }, (_, i) => line(i));
  for (const l of lines) out.write(l);
  t.is(writes.length, Math.floor(100 / Math.floor(WholeLines.MAX_WRITE / lines[0]!.length)), "only full batches are written before the turn ends");
  await turn();
  t.true(writes.length >= 3 && writes.length <= 4, `${writes.length} writes for ${lines.join("").length} bytes`);
  t.is(writes.join(""), lines.join(""), "every line, in order");
  for (const w of writes) {
    t.true(Buffer.byteLength(w) <= WholeLines.MAX_WRITE);
    t.true(w.endsWith("\n") && w.split("\n").slice(0, -1).every((l) => l.startsWith('{"n":')), "whole lines only");
  }
});

test("a line longer than 4,096 bytes is written alone; a quiet logger writes each line in the turn it was logged", async (t) => {
  const writes: string[] = [];
  const out = new WholeLines({ write: (chunk) => writes.push(chunk) });
  out.write(line(1));
  out.write(line(2, 5000));
  out.write(line(3));
  await turn();
  t.deepEqual(writes, [line(1), line(2, 5000), line(3)]);
  out.write(line(4));
  t.is(writes.length, 3, "not before the turn ends");
  await turn();
  t.deepEqual(writes.slice(3), [line(4)]);
});

test("flush writes what is pending at once (as at exit), and nothing when nothing is", (t) => {
  const writes: string[] = [];
  const out = new WholeLines({ write: (chunk) => writes.push(chunk) });
  out.flush();
  t.deepEqual(writes, []);
  out.write(line(1));
  out.write(line(2));
  out.flush();
  t.deepEqual(writes, [line(1) + line(2)]);
});
