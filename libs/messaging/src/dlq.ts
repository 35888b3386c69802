import type { NatsConnection } from '@nats-io/nats-core';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { jetstream, jetstreamManager, type JsMsg, type StoredMsg } from '@nats-io/jetstream';
import { HEADERS, STREAMS } from '@kairos/contracts';
import { scanStream } from './scan';

/** One message in the DLQ stream: where it came from, who failed it and why. */
export interface DeadLetter {
  /** Its sequence in the DLQ stream: the handle `show` and `replay` take. */
  seq: number;
  /** When it was dead-lettered. */
  time: Date;
  /** The subject it was published to, and will be replayed to. */
  subject: string;
  /** The stream and sequence it had there. */
  stream: string;
  streamSequence: number;
  /** The durable consumer whose handler failed (empty for entries written before it was recorded). */
  consumer: string;
  deliveries: number;
  error: string;
  /** Payload bytes. */
  size: number;
}

/** A dead letter with its payload and the headers it will be replayed with. */
export interface DeadLetterMessage extends DeadLetter {
  data: Uint8Array;
  /** The original message's headers (trace context, schema), without the DLQ's own. */
  headers: Record<string, string>;
}

export class DeadLetterNotFound extends Error {}

const DLQ_HEADERS = new Set<string>([
  HEADERS.dlqError,
  HEADERS.dlqSubject,
  HEADERS.dlqDeliveries,
  HEADERS.dlqStream,
  HEADERS.dlqSequence,
  HEADERS.dlqConsumer,
]);

type Header = { get(k: string): string } | undefined;

function entry(seq: number, time: Date, subject: string, h: Header, size: number): DeadLetter {
  const get = (k: string) => h?.get(k) ?? '';
  return {
    seq,
    time,
    subject: get(HEADERS.dlqSubject) || subject.replace(/^dlq\./, ''),
    stream: get(HEADERS.dlqStream),
    streamSequence: Number(get(HEADERS.dlqSequence)) || 0,
    consumer: get(HEADERS.dlqConsumer),
    deliveries: Number(get(HEADERS.dlqDeliveries)) || 0,
    error: get(HEADERS.dlqError),
    size,
  };
}

function fromScanned(m: JsMsg): DeadLetter {
  // Headers-only delivery reports the payload's size in Nats-Msg-Size.
  const size = Number(m.headers?.get('Nats-Msg-Size')) || m.data.length;
  return entry(m.seq, new Date(Math.floor(m.info.timestampNanos / 1e6)), m.subject, m.headers, size);
}

/**
 * The dead letters whose original subject matches `subject` (a NATS wildcard filter, default every
 * subject), oldest first, at most `limit` of them. Reads headers only.
 */
export async function listDeadLetters(
  nc: NatsConnection,
  opts: { subject?: string; limit?: number } = {},
): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  const limit = opts.limit ?? 100;
  if (limit <= 0) return out;
  for await (const m of scanStream(nc, {
    stream: STREAMS.DLQ.name,
    filter: `dlq.${opts.subject ?? '>'}`,
    headersOnly: true,
  })) {
    out.push(fromScanned(m));
    if (out.length >= limit) break;
  }
  return out;
}

async function stored(nc: NatsConnection, seq: number): Promise<StoredMsg> {
  const jsm = await jetstreamManager(nc);
  const sm = await jsm.streams.getMessage(STREAMS.DLQ.name, { seq }).catch((err: Error) => {
    if (/no message found|not found/i.test(err.message)) return null;
    throw err;
  });
  if (!sm) throw new DeadLetterNotFound(`no dead letter with sequence ${seq} (replayed or expired?)`);
  return sm;
}

/** One dead letter with its payload. */
export async function getDeadLetter(nc: NatsConnection, seq: number): Promise<DeadLetterMessage> {
  const sm = await stored(nc, seq);
  const headers: Record<string, string> = {};
  for (const [k, v] of sm.header ?? [])
    if (!DLQ_HEADERS.has(k) && !k.startsWith('Nats-')) headers[k] = v[0] ?? '';
  return { ...entry(sm.seq, sm.time, sm.subject, sm.header, sm.data.length), data: sm.data, headers };
}

export interface ReplayResult {
  entry: DeadLetter;
  /** The sequence the replayed message got in its stream. */
  replayedSeq: number;
  /** True when the stream had already stored this replay (a replay repeated after a crash). */
  duplicate: boolean;
}

/**
 * Republishes dead letter `seq` to its original subject, then deletes it from the DLQ. Every consumer
 * of that subject receives it, but it carries `Kairos-Replay-For: <consumer that failed>` and the
 * others ack it unread, so it is handled once, by the consumer that could not. Its message id is
 * derived from `seq`: a replay repeated within the stream's duplicate window (after a crash between
 * the publish and the delete) is stored once.
 */
export async function replayDeadLetter(nc: NatsConnection, seq: number): Promise<ReplayResult> {
  const dead = await getDeadLetter(nc, seq);
  const h = natsHeaders();
  for (const [k, v] of Object.entries(dead.headers)) h.set(k, v);
  if (dead.consumer) h.set(HEADERS.replayFor, dead.consumer);
  const ack = await jetstream(nc).publish(dead.subject, dead.data, {
    msgID: `dlq-replay:${seq}`,
    headers: h,
  });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.deleteMessage(STREAMS.DLQ.name, seq, false).catch((err: Error) => {
    // Deleted meanwhile by another replay of the same entry: the outcome is the same.
    if (!/no message found|not found/i.test(err.message)) throw err;
  });
  const { data: _data, headers: _headers, ...rest } = dead;
  return { entry: rest, replayedSeq: ack.seq, duplicate: ack.duplicate };
}
