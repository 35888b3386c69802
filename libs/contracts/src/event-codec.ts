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
import { isUtf8 } from 'node:buffer';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';
import { Struct } from './gen/google/protobuf/struct';
import { Timestamp } from './gen/google/protobuf/timestamp';
import { EventContext, type Event, type EventCategory } from './gen/kairos/events/v1/events';
import type { StreamRequest, TrackBatchRequest, TrackRequest } from './gen/kairos/ingest/v1/ingest';

/** What validation needs to know about encoded properties, measured without decoding them. */
export interface PropertiesShape {
  /**
   * At least the JSON size in UTF-8 bytes of the decoded properties, by the rule of ingest's
   * `measureProperties` (exact unless the wire holds entries decoding drops or overwrites).
   */
  jsonBytes: number;
  /** Depth of the deepest struct or list value (top-level values are at depth 1); 0 when none. */
  depth: number;
  /** Every key and string is well-formed UTF-8, so decoding replaces no character. */
  utf8: boolean;
  /** Every number is finite (JSON, CEL and the database have no NaN or Infinity). */
  finite: boolean;
}

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

const RECURSION_LIMIT = 100;
const TS_PROTO_DEPTH = '__tsProtoDecodeDepth';
type DepthReader = BinaryReader & { [TS_PROTO_DEPTH]?: number };

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

/** Enters one message decode, counting depth on the reader like the generated code does. */
function enter(reader: DepthReader): number {
  const previous = reader[TS_PROTO_DEPTH] ?? 0;
  if (previous >= RECURSION_LIMIT) throw new globalThis.Error('protobuf decode recursion limit exceeded');
  reader[TS_PROTO_DEPTH] = previous + 1;
  return previous;
}

function isAsciiOrUtf8(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] > 0x7f) return isUtf8(bytes);
  return true;
}

/** JSON length of a number by measureProperties' rule (digits for safe integers, else 24). */
function numberJsonBytes(v: number): number {
  return Number.isInteger(v) && Math.abs(v) < 1e15 ? String(v).length : 24;
}

/**
 * The common case first: properties in canonical encoding (only the fields Struct, Value and ListValue
 * define, every length within its parent, nesting under 25 levels) are walked straight over the
 * bytes. `fastShape` returns undefined on anything else, and ShapeWalker then takes the same bytes
 * the generated decoder's way (which also decides errors and the recursion limit).
 */
const fast = { pos: 0, jsonBytes: 0, depth: 0, utf8: true, finite: true };
const FAST_MAX_DEPTH = 25;
const float64 = new Float64Array(1);
const float64Bytes = new Uint8Array(float64.buffer);
// Protobuf doubles are little-endian; the scratch Float64Array has the platform's byte order.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** A varint of at most 5 bytes ending by `end`, or -1. */
function fastVarint(buf: Uint8Array, end: number): number {
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (fast.pos >= end) return -1;
    const b = buf[fast.pos++];
    value += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return value;
  }
  return -1;
}

/** Length of a length-delimited field that fits in its parent, or -1. */
function fastLength(buf: Uint8Array, end: number): number {
  const len = fastVarint(buf, end);
  return len >= 0 && fast.pos + len <= end ? len : -1;
}

function fastText(buf: Uint8Array, end: number): number {
  const len = fastLength(buf, end);
  if (len < 0) return -1;
  const start = fast.pos;
  fast.pos += len;
  if (fast.utf8) {
    for (let i = start; i < fast.pos; i++) {
      if (buf[i] > 0x7f) {
        fast.utf8 = isUtf8(buf.subarray(start, fast.pos));
        break;
      }
    }
  }
  return len;
}

function fastStruct(buf: Uint8Array, end: number, depth: number): boolean {
  if (depth > FAST_MAX_DEPTH) return false;
  fast.jsonBytes += 2;
  while (fast.pos < end) {
    if (buf[fast.pos++] !== 10) return false;
    const len = fastLength(buf, end);
    if (len < 0) return false;
    const entryEnd = fast.pos + len;
    fast.jsonBytes += 4;
    while (fast.pos < entryEnd) {
      const tag = buf[fast.pos++];
      if (tag === 10) {
        const key = fastText(buf, entryEnd);
        if (key < 0) return false;
        fast.jsonBytes += key;
      } else if (tag === 18) {
        const valueLen = fastLength(buf, entryEnd);
        if (valueLen < 0 || !fastValue(buf, fast.pos + valueLen, depth)) return false;
      } else return false;
    }
  }
  return true;
}

function fastList(buf: Uint8Array, end: number, depth: number): boolean {
  if (depth > FAST_MAX_DEPTH) return false;
  fast.jsonBytes += 2;
  while (fast.pos < end) {
    if (buf[fast.pos++] !== 10) return false;
    const len = fastLength(buf, end);
    fast.jsonBytes += 1;
    if (len < 0 || !fastValue(buf, fast.pos + len, depth)) return false;
  }
  return true;
}

function fastValue(buf: Uint8Array, end: number, depth: number): boolean {
  let kinds = 0;
  while (fast.pos < end) {
    const tag = buf[fast.pos++];
    kinds++;
    switch (tag) {
      case 8: // null_value (an int32: negative values take 10 bytes, left to ShapeWalker)
        if (fastVarint(buf, end) < 0) return false;
        fast.jsonBytes += 4;
        continue;
      case 17: {
        if (fast.pos + 8 > end) return false;
        for (let i = 0; i < 8; i++) float64Bytes[LITTLE_ENDIAN ? i : 7 - i] = buf[fast.pos + i];
        fast.pos += 8;
        if (!Number.isFinite(float64[0])) fast.finite = false;
        fast.jsonBytes += numberJsonBytes(float64[0]);
        continue;
      }
      case 26: {
        const len = fastText(buf, end);
        if (len < 0) return false;
        fast.jsonBytes += len + 2;
        continue;
      }
      case 32:
        if (fastVarint(buf, end) < 0) return false;
        fast.jsonBytes += 5;
        continue;
      case 42:
      case 50: {
        const len = fastLength(buf, end);
        if (len < 0) return false;
        if (depth > fast.depth) fast.depth = depth;
        const ok =
          tag === 42 ? fastStruct(buf, fast.pos + len, depth + 1) : fastList(buf, fast.pos + len, depth + 1);
        if (!ok) return false;
        continue;
      }
      default:
        return false;
    }
  }
  if (kinds === 0) fast.jsonBytes += 4;
  return true;
}

/** The shape of the canonical Struct at `buf[start, end)`, or undefined (see `fast`). */
function fastShape(buf: Uint8Array, start: number, end: number): PropertiesShape | undefined {
  fast.pos = start;
  fast.jsonBytes = 0;
  fast.depth = 0;
  fast.utf8 = true;
  fast.finite = true;
  if (!fastStruct(buf, end, 1) || fast.pos !== end) return undefined;
  return { jsonBytes: fast.jsonBytes, depth: fast.depth, utf8: fast.utf8, finite: fast.finite };
}

/**
 * Walks an encoded Struct / Value / ListValue exactly as Struct.decode / Value.decode /
 * ListValue.decode read it, adding up the JSON size and depth without building anything.
 */
class ShapeWalker implements PropertiesShape {
  jsonBytes = 0;
  depth = 0;
  utf8 = true;
  finite = true;

  constructor(private readonly reader: DepthReader) {}

  private text(): number {
    const bytes = this.reader.bytes();
    if (this.utf8 && !isAsciiOrUtf8(bytes)) this.utf8 = false;
    return bytes.length;
  }

  /** A Struct whose values are at `depth`. */
  struct(length: number, depth: number): void {
    const reader = this.reader;
    const previous = enter(reader);
    try {
      const end = reader.pos + length;
      this.jsonBytes += 2;
      while (reader.pos < end) {
        const tag = reader.uint32();
        if (tag === 10) {
          this.entry(reader.uint32(), depth);
          continue;
        }
        if ((tag & 7) === 4 || tag === 0) break;
        reader.skip(tag & 7);
      }
    } finally {
      reader[TS_PROTO_DEPTH] = previous;
    }
  }

  private entry(length: number, depth: number): void {
    const reader = this.reader;
    const previous = enter(reader);
    try {
      const end = reader.pos + length;
      this.jsonBytes += 4;
      while (reader.pos < end) {
        const tag = reader.uint32();
        if (tag === 10) {
          this.jsonBytes += this.text();
          continue;
        }
        if (tag === 18) {
          this.value(reader.uint32(), depth);
          continue;
        }
        if ((tag & 7) === 4 || tag === 0) break;
        reader.skip(tag & 7);
      }
    } finally {
      reader[TS_PROTO_DEPTH] = previous;
    }
  }

  /** One Value at `depth`; every kind present is counted (decoding keeps the last). */
  private value(length: number, depth: number): void {
    const reader = this.reader;
    const previous = enter(reader);
    try {
      const end = reader.pos + length;
      let kinds = 0;
      while (reader.pos < end) {
        const tag = reader.uint32();
        switch (tag) {
          case 8:
            reader.int32();
            this.jsonBytes += 4;
            kinds++;
            continue;
          case 17: {
            const n = reader.double();
            if (!Number.isFinite(n)) this.finite = false;
            this.jsonBytes += numberJsonBytes(n);
            kinds++;
            continue;
          }
          case 26:
            this.jsonBytes += this.text() + 2;
            kinds++;
            continue;
          case 32:
            reader.bool();
            this.jsonBytes += 5;
            kinds++;
            continue;
          case 42:
            if (depth > this.depth) this.depth = depth;
            this.struct(reader.uint32(), depth + 1);
            kinds++;
            continue;
          case 50:
            if (depth > this.depth) this.depth = depth;
            this.list(reader.uint32(), depth + 1);
            kinds++;
            continue;
        }
        if ((tag & 7) === 4 || tag === 0) break;
        reader.skip(tag & 7);
      }
      // No kind: undefined, which measureProperties counts as 4.
      if (kinds === 0) this.jsonBytes += 4;
    } finally {
      reader[TS_PROTO_DEPTH] = previous;
    }
  }

  private list(length: number, depth: number): void {
    const reader = this.reader;
    const previous = enter(reader);
    try {
      const end = reader.pos + length;
      this.jsonBytes += 2;
      while (reader.pos < end) {
        const tag = reader.uint32();
        if (tag === 10) {
          this.jsonBytes += 1;
          this.value(reader.uint32(), depth);
          continue;
        }
        if ((tag & 7) === 4 || tag === 0) break;
        reader.skip(tag & 7);
      }
    } finally {
      reader[TS_PROTO_DEPTH] = previous;
    }
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
          let shape = start + size <= reader.len ? fastShape(buf, start, start + size) : undefined;
          if (shape) reader.pos = start + size;
          else {
            const walker = new ShapeWalker(reader);
            walker.struct(size, 1);
            shape = {
              jsonBytes: walker.jsonBytes,
              depth: walker.depth,
              utf8: walker.utf8,
              finite: walker.finite,
            };
          }
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
  const previous = enter(reader);
  try {
    const message: { event: Event | undefined } = { event: undefined };
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag === 10) {
        message.event = decodeEvent(reader, reader.uint32());
        continue;
      }
      if ((tag & 7) === 4 || tag === 0) break;
      reader.skip(tag & 7);
    }
    return message;
  } finally {
    reader[TS_PROTO_DEPTH] = previous;
  }
}

export const decodeTrackRequest: (input: Uint8Array) => TrackRequest = decodeSingleEventRequest;
export const decodeStreamRequest: (input: Uint8Array) => StreamRequest = decodeSingleEventRequest;

export function decodeTrackBatchRequest(input: Uint8Array): TrackBatchRequest {
  const reader: DepthReader = new AsciiReader(input);
  const previous = enter(reader);
  try {
    const message: TrackBatchRequest = { events: [] };
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag === 10) {
        message.events.push(decodeEvent(reader, reader.uint32()));
        continue;
      }
      if ((tag & 7) === 4 || tag === 0) break;
      reader.skip(tag & 7);
    }
    return message;
  } finally {
    reader[TS_PROTO_DEPTH] = previous;
  }
}
