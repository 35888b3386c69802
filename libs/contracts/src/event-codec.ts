// Event codec that keeps `properties` (a google.protobuf.Struct) as the bytes it arrived in.
//
// Ingest forwards events it receives: decoding properties into JS objects only to encode them again
// for the publish was most of its protobuf work and garbage. Events decoded here carry their encoded
// properties plus a shape measured from the wire (JSON size bound, nesting depth, UTF-8 validity), so
// validation needs no objects; `encodeEvent` writes the bytes back unchanged. Reading
// `event.properties` still works: it decodes on first use, and from then on the event encodes from
// that object (which the reader may have changed).
//
// The decoders mirror the ts-proto generated ones step by step (same loops, same recursion limit,
// same handling of unknown and malformed fields), so a request that fails to decode here fails the
// same way there. They list Event's fields by hand: test/unit/event-codec.test.ts fails when the
// proto gains a field they do not know.
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import { Struct } from './gen/google/protobuf/struct';
import { Timestamp } from './gen/google/protobuf/timestamp';
import { EventContext, type Event, type EventCategory } from './gen/kairos/events/v1/events';
import type { StreamRequest, TrackBatchRequest, TrackRequest } from './gen/kairos/ingest/v1/ingest';
import {
  enter,
  measureStruct,
  readFields,
  TS_PROTO_DEPTH,
  type DepthReader,
  type PropertiesShape,
} from './properties-shape';

export type { PropertiesShape } from './properties-shape';

interface RawProperties {
  bytes: Uint8Array;
  shape: PropertiesShape;
  /** Set once `properties` was read or assigned: the event then encodes from this value. */
  decoded?: { value: { [key: string]: any } | undefined };
}

const RAW = Symbol('kairos.rawProperties');
type WithRaw = Event & { [RAW]?: RawProperties };

function getProperties(this: WithRaw): { [key: string]: any } | undefined {
  const raw = this[RAW]!;
  raw.decoded ??= { value: Struct.unwrap(Struct.decode(raw.bytes)) };
  return raw.decoded.value;
}

function setProperties(this: WithRaw, value: { [key: string]: any } | undefined): void {
  this[RAW]!.decoded = { value };
}

/**
 * An Event whose `properties` accessor reads `raw`. The accessor is added to an object that never had
 * a data property of that name (redefining one would turn every event into a slow dictionary object).
 */
function eventWithRawProperties(fields: Omit<Event, 'properties'>, raw: RawProperties): Event {
  const event = {
    id: fields.id,
    type: fields.type,
    category: fields.category,
    customerId: fields.customerId,
    occurredAt: fields.occurredAt,
  } as WithRaw;
  Object.defineProperty(event, 'properties', {
    get: getProperties,
    set: setProperties,
    enumerable: true,
    configurable: true,
  });
  event.source = fields.source;
  event.context = fields.context;
  event.receivedAt = fields.receivedAt;
  Object.defineProperty(event, RAW, { value: raw, writable: true, enumerable: false });
  return event;
}

/**
 * The shape of an event's properties when they are still the received bytes (nobody read or
 * assigned `properties`); undefined otherwise, and for events built in memory.
 */
export function rawPropertiesShape(event: Event): PropertiesShape | undefined {
  const raw = (event as WithRaw)[RAW];
  return raw && !raw.decoded ? raw.shape : undefined;
}

/** The reader's buffer (a public field at runtime, private in its typings). */
function bufferOf(reader: BinaryReader): Uint8Array {
  return (reader as unknown as { buf: Uint8Array }).buf;
}

/**
 * A BinaryReader whose `string()` takes short ASCII strings as a slice of the buffer. The base
 * class builds an array of char codes for each (a tenth of ingest's allocations, ids, types and
 * context fields being short ASCII); anything else is read by the base class, so results are equal.
 */
class AsciiReader extends BinaryReader {
  private readonly bytes_: Buffer;

  constructor(input: Uint8Array) {
    const bytes = Buffer.isBuffer(input)
      ? input
      : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    super(bytes);
    this.bytes_ = bytes;
  }

  override string(strict?: boolean): string {
    const buf = this.bytes_;
    const start = this.pos + 1;
    const len = buf[this.pos];
    const end = start + len;
    if (len < 0x80 && end <= this.len) {
      let i = start;
      while (i < end && buf[i] < 0x80) i++;
      if (i === end) {
        this.pos = end;
        return buf.toString('latin1', start, end);
      }
    }
    return super.string(strict);
  }
}

function fromTimestamp(t: Timestamp): Date {
  let millis = (t.seconds || 0) * 1_000;
  millis += (t.nanos || 0) / 1_000_000;
  return new globalThis.Date(millis);
}

function toTimestamp(date: Date): Timestamp {
  const seconds = Math.trunc(date.getTime() / 1_000);
  const nanos = (date.getTime() % 1_000) * 1_000_000;
  return { seconds, nanos };
}

/** Event.decode, with properties kept as bytes (see the file comment). */
export function decodeEvent(input: BinaryReader | Uint8Array, length?: number): Event {
  const reader: DepthReader = input instanceof BinaryReader ? input : new AsciiReader(input);
  const previous = enter(reader);
  try {
    const end = length === undefined ? reader.len : reader.pos + length;
    const message: Event = {
      id: '',
      type: '',
      category: 0,
      customerId: '',
      occurredAt: undefined,
      properties: undefined,
      source: '',
      context: undefined,
      receivedAt: undefined,
    };
    // The last properties field wins, as in the generated decoder.
    let raw: RawProperties | undefined;
    while (reader.pos < end) {
      const tag = reader.uint32();
      switch (tag) {
        case 10:
          message.id = reader.string();
          continue;
        case 18:
          message.type = reader.string();
          continue;
        case 24:
          message.category = reader.int32() as EventCategory;
          continue;
        case 34:
          message.customerId = reader.string();
          continue;
        case 42:
          message.occurredAt = fromTimestamp(Timestamp.decode(reader, reader.uint32()));
          continue;
        case 50: {
          const size = reader.uint32();
          const start = reader.pos;
          const buf = bufferOf(reader);
          const shape = measureStruct(reader, buf, start, size);
          // The bytes the Struct decode consumed (all of them unless it met an end-group tag).
          raw = { bytes: buf.subarray(start, reader.pos), shape };
          continue;
        }
        case 58:
          message.source = reader.string();
          continue;
        case 66:
          message.context = EventContext.decode(reader, reader.uint32());
          continue;
        case 74:
          message.receivedAt = fromTimestamp(Timestamp.decode(reader, reader.uint32()));
          continue;
      }
      if ((tag & 7) === 4 || tag === 0) break;
      reader.skip(tag & 7);
    }
    return raw ? eventWithRawProperties(message, raw) : message;
  } finally {
    reader[TS_PROTO_DEPTH] = previous;
  }
}

/** Event.encode; properties still in their received bytes are written as they are. */
export function encodeEvent(message: Event, writer: BinaryWriter = new BinaryWriter()): BinaryWriter {
  if (message.id !== '') writer.uint32(10).string(message.id);
  if (message.type !== '') writer.uint32(18).string(message.type);
  if (message.category !== 0) writer.uint32(24).int32(message.category);
  if (message.customerId !== '') writer.uint32(34).string(message.customerId);
  if (message.occurredAt !== undefined) {
    Timestamp.encode(toTimestamp(message.occurredAt), writer.uint32(42).fork()).join();
  }
  const raw = (message as WithRaw)[RAW];
  if (raw && !raw.decoded) writer.uint32(50).bytes(raw.bytes);
  else if (message.properties !== undefined) {
    Struct.encode(Struct.wrap(message.properties), writer.uint32(50).fork()).join();
  }
  if (message.source !== '') writer.uint32(58).string(message.source);
  if (message.context !== undefined) EventContext.encode(message.context, writer.uint32(66).fork()).join();
  if (message.receivedAt !== undefined) {
    Timestamp.encode(toTimestamp(message.receivedAt), writer.uint32(74).fork()).join();
  }
  return writer;
}

// Encoding is synchronous, so one writer can serve every call and keep the buffer it has grown.
const sharedWriter = new BinaryWriter();

/** `encodeEvent(event).finish()` through a reused writer (hot paths: one allocation per event). */
export function encodeEventBytes(event: Event): Uint8Array {
  try {
    encodeEvent(event, sharedWriter);
  } catch (err) {
    sharedWriter.finish(); // resets the writer for the next call
    throw err;
  }
  return sharedWriter.finish();
}

/** The Event fields the functions above read and write, in field-number order. */
export const EVENT_CODEC_FIELDS = [
  'id',
  'type',
  'category',
  'customerId',
  'occurredAt',
  'properties',
  'source',
  'context',
  'receivedAt',
] as const;

/** Decodes a request whose only field is `event = 1` (TrackRequest, StreamRequest). */
function decodeSingleEventRequest(input: Uint8Array): { event: Event | undefined } {
  const reader: DepthReader = new AsciiReader(input);
  const message: { event: Event | undefined } = { event: undefined };
  readFields(reader, reader.len, (tag) => {
    if (tag !== 10) return false;
    message.event = decodeEvent(reader, reader.uint32());
    return true;
  });
  return message;
}

export const decodeTrackRequest: (input: Uint8Array) => TrackRequest = decodeSingleEventRequest;
export const decodeStreamRequest: (input: Uint8Array) => StreamRequest = decodeSingleEventRequest;

export function decodeTrackBatchRequest(input: Uint8Array): TrackBatchRequest {
  const reader: DepthReader = new AsciiReader(input);
  const message: TrackBatchRequest = { events: [] };
  readFields(reader, reader.len, (tag) => {
    if (tag !== 10) return false;
    message.events.push(decodeEvent(reader, reader.uint32()));
    return true;
  });
  return message;
}
