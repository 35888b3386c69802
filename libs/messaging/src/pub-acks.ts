import {
  ClosedConnectionError,
  createInbox,
  NoRespondersError,
  TimeoutError,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type Subscription,
} from '@nats-io/nats-core';
import { JetStreamApiError, JetStreamError, type PubAck } from '@nats-io/jetstream';
import { inboxPrefixOf } from './connection';

/** Called once per publish: with the PubAck, or with the error. */
export type AckCallback = (err: Error | undefined, ack?: PubAck) => void;

interface Pending {
  subject: string;
  deadline: number;
  settle: AckCallback;
}

const decoder = new TextDecoder();

/**
 * JetStream publishes acknowledged through one reply subscription per connection.
 *
 * What `js.publish` does per message (a request with its own timer, a promise race, and an Error
 * object created when the request is cleaned up) was a tenth of ingest's CPU; here each publish is a
 * core publish with a reply subject `<inbox>.<token>` and a map entry, and one timer expires what
 * waited longer than `timeoutMs`. The outcomes match `js.publish`: the PubAck, a `JetStreamApiError`
 * for an error reply, `TimeoutError`, `NoRespondersError` when no stream listens on the subject, and
 * `ClosedConnectionError` when the connection closes first.
 */
export class PubAckInbox {
  private readonly pending = new Map<string, Pending>();
  private prefix = '';
  private sub?: Subscription;
  private sweeper?: NodeJS.Timeout;
  private nextToken = 0;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMs: number,
  ) {}

  publish(subject: string, payload: Uint8Array, headers: MsgHdrs): Promise<PubAck> {
    return new Promise<PubAck>((resolve, reject) =>
      this.send(subject, payload, headers, (err, ack) => (err ? reject(err) : resolve(ack!))),
    );
  }

  /** Publishes and calls `settle` once, with the PubAck or the error (also when publishing throws). */
  send(subject: string, payload: Uint8Array, headers: MsgHdrs, settle: AckCallback): void {
    let token: string;
    try {
      token = (this.nextToken++).toString(36);
      this.nc.publish(subject, payload, { reply: this.replyPrefix() + token, headers });
    } catch (err) {
      return settle(err as Error);
    }
    // Every entry has the same timeout, so the map's insertion order is deadline order.
    this.pending.set(token, { subject, deadline: Date.now() + this.timeoutMs, settle });
    this.sweeper ??= setInterval(() => this.expire(), Math.max(10, Math.min(250, this.timeoutMs / 4)));
  }

  /** Subscribes on first use (and again after the connection closed the subscription). */
  private replyPrefix(): string {
    if (this.sub) return this.prefix;
    const prefix = `${createInbox(inboxPrefixOf(this.nc))}.`;
    const sub = this.nc.subscribe(`${prefix}*`, {
      callback: (err, msg) => (err ? this.failAll(err) : this.settle(msg)),
    });
    void sub.closed.then(() => {
      if (this.sub === sub) this.sub = undefined;
      this.failAll(new ClosedConnectionError());
    });
    this.sub = sub;
    this.prefix = prefix;
    return prefix;
  }

  private settle(msg: Msg): void {
    if (!msg.subject.startsWith(this.prefix)) return;
    const token = msg.subject.slice(this.prefix.length);
    const p = this.pending.get(token);
    if (!p) return; // expired, its publish retried under another token
    this.pending.delete(token);
    if (msg.data.length === 0 && msg.headers?.code === 503) return p.settle(new NoRespondersError(p.subject));
    let ack: PubAck & { error?: ConstructorParameters<typeof JetStreamApiError>[0] };
    try {
      ack = JSON.parse(decoder.decode(msg.data)) as typeof ack;
    } catch (err) {
      return p.settle(err as Error);
    }
    if (ack.error) return p.settle(new JetStreamApiError(ack.error));
    if (!ack.stream) return p.settle(new JetStreamError('invalid ack response'));
    ack.duplicate = ack.duplicate ?? false;
    p.settle(undefined, ack);
  }

  private expire(): void {
    const now = Date.now();
    for (const [token, p] of this.pending) {
      if (p.deadline > now) break;
      this.pending.delete(token);
      p.settle(new TimeoutError());
    }
    if (this.pending.size === 0) this.stopSweeper();
  }

  private failAll(err: Error): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    this.stopSweeper();
    for (const p of waiting) p.settle(err);
  }

  private stopSweeper(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
  }
}
