/**
 * The processes of a bench run: starting them, reading what they print, and
 * the memory they occupy (Linux /proc).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { openSync, readFileSync } from "node:fs";
import net, { type AddressInfo } from "node:net";
import path from "node:path";

export const ROOT = path.resolve(import.meta.dirname, "..");

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export function waitForLine(child: ChildProcess, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${seen}`)), 60_000);
    const onData = (chunk: Buffer) => {
      seen += chunk.toString();
      const match = pattern.exec(seen);
      if (match !== null) {
        clearTimeout(timer);
        child.stdout!.off("data", onData);
        resolve(match);
      }
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`${what} exited with ${code}: ${seen}`)));
  });
}

/**
 * Runs a TypeScript file of the bench to its end; resolves with its last
 * line on stdout. `onLine` sees every line before.
 */
export function runNode(args: string[], onLine: (line: string) => void = () => {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let buffered = "";
    let last = "";
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines.filter(Boolean)) {
        last = line;
        onLine(line);
      }
    });
    child.on("exit", (code) => (code === 0 ? resolve(buffered === "" ? last : buffered) : reject(new Error(`${args[0]} exited with ${code}`))));
  });
}

/** A long-running helper of the bench (a target) that prints its port when ready. */
export interface Service {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

export async function startService(script: string, args: string[], logFile: string): Promise<Service> {
  const child = spawn(process.execPath, ["--import", "tsx", script, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", openSync(logFile, "w")] });
  const port = Number((await waitForLine(child, /^(\d+)\n/, script))[1]);
  return { pid: child.pid!, port, stop: () => stopChild(child) };
}

export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/**
 * Memory of a process and its children, MB: the sum of their proportional
 * set sizes (PSS). With several worker processes, RSS would count the pages
 * they share (the node binary, shared libraries) once per process; PSS
 * divides each shared page among the processes mapping it, so its sum is the
 * memory the server occupies.
 */
export function pssMb(pid: number): number {
  let kib = 0;
  const visit = (p: number) => {
    try {
      kib += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, "utf8"))?.[1] ?? 0);
      for (const child of readFileSync(`/proc/${p}/task/${p}/children`, "utf8").split(" ").filter(Boolean)) visit(Number(child));
    } catch {
      // The process ended.
    }
  };
  visit(pid);
  return kib / 1024;
}

/** Samples a process tree's PSS every `everyMs` while it runs: the peak, and the curve if asked. */
export class MemoryWatch {
  peak = 0;
  readonly curve: { seconds: number; mb: number }[] = [];
  #timer: NodeJS.Timeout;
  #since = performance.now();
  #keepCurve = false;

  constructor(pid: number, everyMs: number) {
    const sample = () => {
      const mb = pssMb(pid);
      this.peak = Math.max(this.peak, mb);
      if (this.#keepCurve) this.curve.push({ seconds: (performance.now() - this.#since) / 1000, mb });
    };
    sample();
    this.#timer = setInterval(sample, everyMs);
  }

  /** Keeps every sample from now on, timed from now. */
  startCurve(): void {
    this.#since = performance.now();
    this.#keepCurve = true;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
