import pg from "pg";

const CHANNEL = "iam_changes";
/**
 * How often the listening connection is checked, and how long it may take to
 * answer: a silently dead one is noticed within twice this, and then nothing
 * is answered from memory until it is back.
 */
export const HEARTBEAT_MS = 5000;

/**
 * The epoch of what this process keeps in memory of administration's tables:
 * it moves when this process changes them, and when another process
 * announces a change (the iam_changes channel, delivered within milliseconds
 * of its commit). While the listening connection is down, nothing is kept:
 * every read goes to the database and the epoch moves at every look, until
 * it is back (it is tried again every second). A connection that dies
 * without a word is found by the heartbeat within 2 × HEARTBEAT_MS.
 */
export class ChangeListener {
  #epoch = 0;
  #up = false;
  #closed = false;
  #client: pg.Client | undefined;
  #retry: NodeJS.Timeout | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #beating = false;
  #everUp = false;
  #reportedDown = false;

  constructor(
    private readonly connection: pg.ClientConfig,
    private readonly origin: string,
    private readonly onChange: (up: boolean, err?: unknown) => void = () => {},
  ) {}

  get up(): boolean {
    return this.#up;
  }

  get epoch(): number {
    // Down: a value never seen before, so nothing compares equal to it.
    return this.#up ? this.#epoch : ++this.#epoch;
  }

  /** This process changed them. */
  bump(): void {
    this.#epoch++;
  }

  async start(): Promise<void> {
    const client = new pg.Client(this.connection);
    const lost = (err?: unknown) => {
      if (this.#client !== client) return;
      this.#client = undefined;
      this.#up = false;
      this.#epoch++;
      clearInterval(this.#heartbeat);
      client.end().catch(() => {});
      // end() waits for the server; a connection that went silent is cut.
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      if (this.#closed) return;
      // Said once an outage (not at every failed retry), and only once it had been up.
      if (this.#everUp && !this.#reportedDown) {
        this.#reportedDown = true;
        this.onChange(false, err);
      }
      this.#retry = setTimeout(() => void this.start().catch(() => {}), 1000);
      this.#retry.unref();
    };
    client.on("error", lost);
    client.on("end", () => lost());
    client.on("notification", (message) => {
      if (message.channel === CHANNEL && message.payload !== this.origin) this.#epoch++;
    });
    this.#client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (err) {
      lost(err);
      throw err;
    }
    // Anything may have changed while nobody listened.
    this.#epoch++;
    this.#up = true;
    this.#everUp = true;
    if (this.#reportedDown) {
      this.#reportedDown = false;
      this.onChange(true);
    }
    // A connection whose network path died silently (a NAT or balancer that
    // forgot it, a failover) gives no error and no notification: it is asked
    // for an answer every HEARTBEAT_MS, and one that takes longer is taken as lost.
    this.#heartbeat = setInterval(() => {
      if (this.#beating) return;
      this.#beating = true;
      let timer: NodeJS.Timeout | undefined;
      const silent = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the listening connection did not answer within ${HEARTBEAT_MS} ms`)), HEARTBEAT_MS);
      });
      Promise.race([client.query("SELECT 1"), silent])
        .catch((err: unknown) => lost(err))
        .finally(() => {
          clearTimeout(timer);
          this.#beating = false;
        });
    }, HEARTBEAT_MS);
    this.#heartbeat.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#retry);
    clearInterval(this.#heartbeat);
    const client = this.#client;
    this.#client = undefined;
    this.#up = false;
    await client?.end().catch(() => {});
  }
}
