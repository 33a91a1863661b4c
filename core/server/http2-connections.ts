/**
 * How long the core's port lets an HTTP/2 connection, and each of its
 * streams, hold on to memory (RFC 9113). Node's HTTP/2 server bounds what one
 * connection may hold but not for how long, and after a connection error it
 * sends GOAWAY (§5.4.1) but never closes the TCP connection nor tells anyone:
 * its nghttp2 session then ignores every frame, PINGs included, and Node stops
 * reading the socket, so it does not even see the peer hang up. Here:
 *
 * - a request (its headers through the end of its body) has `requestTimeoutMs`
 *   to arrive; then its stream is reset (RST_STREAM CANCEL). What a stream
 *   answers afterwards (a health Watch) is not bounded;
 * - a connection that sends no frame for `silenceMs` is sent a PING; with no
 *   acknowledgement within `pingTimeoutMs`, it is closed. A connection whose
 *   session died of a connection error is caught by this too: it answers no PING;
 * - a connection with no stream open for `idleTimeoutMs` is closed gracefully
 *   (GOAWAY NO_ERROR); a client reconnects when it next needs to;
 * - a peer that does not close its side once the session has ended is cut
 *   off after `pingTimeoutMs`.
 *
 * One timer per connection, and one for all streams of the port: no timer is
 * set per request.
 */
import http2 from "node:http2";
import type net from "node:net";

export interface Http2Limits {
  /** Milliseconds a request has to arrive whole (headers through END_STREAM); then RST_STREAM CANCEL. */
  requestTimeoutMs: number;
  /** Milliseconds a connection may go with no stream open; then GOAWAY NO_ERROR, and closed. */
  idleTimeoutMs: number;
  /** Milliseconds without a frame from the peer after which it is sent a PING. */
  silenceMs: number;
  /** Milliseconds the peer has to acknowledge that PING, or to close its side once the session has ended; then the TCP connection is closed. */
  pingTimeoutMs: number;
  /** Streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS, RFC 9113 §6.5.2). */
  maxConcurrentStreams: number;
}

export const DEFAULT_HTTP2_LIMITS: Http2Limits = {
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 300_000,
  silenceMs: 10_000,
  pingTimeoutMs: 5_000,
  maxConcurrentStreams: 100,
};

/** The HTTP/2 connections of one server, from the socket it is handed to its close. */
export class Http2Connections {
  readonly #server: http2.Http2Server;
  readonly #limits: Http2Limits;
  readonly #open = new Set<Connection>();
  /** Streams whose request has not arrived whole, with their deadline; a Map iterates oldest first. */
  readonly #arriving = new Map<http2.ServerHttp2Stream, number>();
  #sweep: NodeJS.Timeout | undefined;
  /** The socket being handed to the server: its session is made while it is. */
  #accepting: net.Socket | undefined;
  /** A stream's listener ('end' and 'close'): its request has arrived, or the stream is gone. */
  readonly arrived: (this: http2.ServerHttp2Stream) => void;

  constructor(server: http2.Http2Server, limits: Http2Limits) {
    this.#server = server;
    this.#limits = limits;
    const arriving = this.#arriving;
    this.arrived = function (this: http2.ServerHttp2Stream) {
      arriving.delete(this);
    };
    server.on("session", (session: http2.ServerHttp2Session) => {
      const socket = this.#accepting;
      if (socket === undefined) throw new Error("an HTTP/2 session was made from a socket not handed over by accept()");
      this.#open.add(new Connection(this, session, socket, limits));
    });
  }

  /** Hands a socket that opened with HTTP/2's preface to the server. */
  accept(socket: net.Socket): void {
    this.#accepting = socket;
    try {
      this.#server.emit("connection", socket);
    } finally {
      this.#accepting = undefined;
    }
  }

  /**
   * Closes every connection gracefully (GOAWAY NO_ERROR: open streams may
   * finish), and cuts off those still open after `graceMs`.
   */
  close(graceMs: number): void {
    for (const connection of this.#open) connection.close(graceMs);
  }

  /** A stream's request must arrive whole within the time allowed. */
  expectRequest(stream: http2.ServerHttp2Stream): void {
    this.#arriving.set(stream, performance.now() + this.#limits.requestTimeoutMs);
    stream.on("end", this.arrived);
    this.#sweep ??= setTimeout(this.#resetLate, this.#limits.requestTimeoutMs).unref();
  }

  connectionGone(connection: Connection): void {
    this.#open.delete(connection);
  }

  /**
   * Resets the streams past their deadline. Run after the loop's I/O (an
   * immediate), so that a request whose end is already in the socket's
   * buffer, after a long pause of this process, is not counted late.
   */
  readonly #resetLate = () => {
    setImmediate(() => {
      this.#sweep = undefined;
      const now = performance.now();
      for (const [stream, deadline] of this.#arriving) {
        if (deadline > now) {
          this.#sweep = setTimeout(this.#resetLate, Math.ceil(deadline - now)).unref();
          return;
        }
        this.#arriving.delete(stream);
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }
    });
  };
}

class Connection {
  readonly #owner: Http2Connections;
  readonly #session: http2.ServerHttp2Session;
  readonly #socket: net.Socket;
  readonly #limits: Http2Limits;
  /** Streams open on the connection, and since when none has been. */
  #streams = 0;
  #idleSince = performance.now();
  #idle: NodeJS.Timeout;
  /** Set while a PING is unanswered. */
  #ping: NodeJS.Timeout | undefined;
  /** Set once the connection is closing: when its streams are cut off. */
  #cutOff: NodeJS.Timeout | undefined;
  /** Set once the session is gone: when the socket is, if the peer has not closed its side. */
  #backstop: NodeJS.Timeout | undefined;
  /** A stream's 'close' listener. */
  readonly #closed: (this: http2.ServerHttp2Stream) => void;

  constructor(owner: Http2Connections, session: http2.ServerHttp2Session, socket: net.Socket, limits: Http2Limits) {
    this.#owner = owner;
    this.#session = session;
    this.#socket = socket;
    this.#limits = limits;
    const connection = this;
    this.#closed = function (this: http2.ServerHttp2Stream) {
      owner.arrived.call(this);
      if (--connection.#streams === 0) connection.#idleSince = performance.now();
    };
    // Node refreshes this timer on every frame that reaches JavaScript: it fires after silenceMs of none.
    session.setTimeout(limits.silenceMs);
    session.on("timeout", this.#probe);
    // Before the server's own listener, which hands the stream to its handler.
    session.prependListener("stream", this.#opened);
    session.once("close", this.#gone);
    this.#idle = setTimeout(this.#checkIdle, limits.idleTimeoutMs).unref();
  }

  /**
   * GOAWAY NO_ERROR; the session ends once its streams have, or is destroyed
   * with them after `graceMs`.
   */
  close(graceMs: number): void {
    if (this.#cutOff !== undefined) return;
    this.#cutOff = setTimeout(this.#destroy, graceMs).unref();
    if (!this.#session.closed && !this.#session.destroyed) this.#session.close();
  }

  /**
   * Node ends the socket with the session, and waits for the peer to end its
   * side after a graceful close; a peer that errored or vanished never does,
   * and is cut off pingTimeoutMs later. Not at once: a connect-node client
   * that sees a GOAWAY with no stream open destroys its session with an error,
   * which nobody listens to any more if the socket was reset under it first.
   */
  readonly #destroy = () => {
    if (!this.#session.destroyed) this.#session.destroy();
    this.#backstop ??= setTimeout(() => this.#socket.destroy(), this.#limits.pingTimeoutMs).unref();
  };

  readonly #opened = (stream: http2.ServerHttp2Stream) => {
    this.#streams++;
    stream.on("close", this.#closed);
    if (!stream.endAfterHeaders) this.#owner.expectRequest(stream);
  };

  readonly #checkIdle = () => {
    const idle = this.#streams > 0 ? 0 : performance.now() - this.#idleSince;
    if (idle >= this.#limits.idleTimeoutMs) {
      this.close(0);
      return;
    }
    this.#idle = setTimeout(this.#checkIdle, Math.ceil(this.#limits.idleTimeoutMs - idle)).unref();
  };

  /** No frame for silenceMs: is the peer still there? */
  readonly #probe = () => {
    if (this.#ping !== undefined || this.#session.destroyed || this.#session.closed) return;
    this.#ping = setTimeout(this.#unanswered, this.#limits.pingTimeoutMs).unref();
    this.#session.ping(this.#pong);
  };

  readonly #pong = (err: Error | null) => {
    if (err !== null || this.#ping === undefined) return;
    clearTimeout(this.#ping);
    this.#ping = undefined;
    // The session's timer has fired; it is set again for the next silence.
    if (!this.#session.destroyed) this.#session.setTimeout(this.#limits.silenceMs);
  };

  /** After the loop's I/O, so that an acknowledgement waiting in the socket after a long pause of this process counts. */
  readonly #unanswered = () => {
    setImmediate(() => {
      if (this.#ping !== undefined) this.#destroy();
    });
  };

  readonly #gone = () => {
    clearTimeout(this.#idle);
    clearTimeout(this.#ping);
    clearTimeout(this.#cutOff);
    clearTimeout(this.#backstop);
    this.#owner.connectionGone(this);
  };
}
