// The shape of encoded event properties (a google.protobuf.Struct), measured straight from the wire
// without decoding them: at least their JSON size, their nesting depth, whether every text is
// UTF-8 and every number finite. Ingest validates properties from this alone (see event-codec.ts).
import { isUtf8 } from 'node:buffer';
import type { BinaryReader } from '@bufbuild/protobuf/wire';

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

const RECURSION_LIMIT = 100;
export const TS_PROTO_DEPTH = '__tsProtoDecodeDepth';
export type DepthReader = BinaryReader & { [TS_PROTO_DEPTH]?: number };

/** Enters one message decode, counting depth on the reader like the generated code does. */
export function enter(reader: DepthReader): number {
  const previous = reader[TS_PROTO_DEPTH] ?? 0;
  if (previous >= RECURSION_LIMIT) throw new globalThis.Error('protobuf decode recursion limit exceeded');
  reader[TS_PROTO_DEPTH] = previous + 1;
  return previous;
}

/**
 * Reads the fields of one message ending at `end` the generated decoders' way: depth counted on the
 * reader (see `enter`), every tag offered to `field`, which returns whether it read that field, the
 * others skipped, an end-group or zero tag ending the message. Returns how many fields `field` read.
 */
export function readFields(reader: DepthReader, end: number, field: (tag: number) => boolean): number {
  const previous = enter(reader);
  try {
    let read = 0;
    while (reader.pos < end) {
      const tag = reader.uint32();
      if (field(tag)) {
        read++;
        continue;
      }
      if ((tag & 7) === 4 || tag === 0) break;
      reader.skip(tag & 7);
    }
    return read;
  } finally {
    reader[TS_PROTO_DEPTH] = previous;
  }
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

/** Struct and ListValue alike: a repeated message field 1, each element read by `element`. */
function fastRepeated(
  buf: Uint8Array,
  end: number,
  depth: number,
  element: (buf: Uint8Array, end: number, depth: number) => boolean,
): boolean {
  if (depth > FAST_MAX_DEPTH) return false;
  fast.jsonBytes += 2;
  while (fast.pos < end) {
    if (buf[fast.pos++] !== 10) return false;
    const len = fastLength(buf, end);
    if (len < 0 || !element(buf, fast.pos + len, depth)) return false;
  }
  return true;
}

/** One Struct entry (key 1, value 2) ending at `end`. */
function fastEntry(buf: Uint8Array, end: number, depth: number): boolean {
  fast.jsonBytes += 4;
  while (fast.pos < end) {
    const tag = buf[fast.pos++];
    if (tag === 10) {
      const key = fastText(buf, end);
      if (key < 0) return false;
      fast.jsonBytes += key;
    } else if (tag === 18) {
      const valueLen = fastLength(buf, end);
      if (valueLen < 0 || !fastValue(buf, fast.pos + valueLen, depth)) return false;
    } else return false;
  }
  return true;
}

function fastListItem(buf: Uint8Array, end: number, depth: number): boolean {
  fast.jsonBytes += 1;
  return fastValue(buf, end, depth);
}

function fastStruct(buf: Uint8Array, end: number, depth: number): boolean {
  return fastRepeated(buf, end, depth, fastEntry);
}

function fastList(buf: Uint8Array, end: number, depth: number): boolean {
  return fastRepeated(buf, end, depth, fastListItem);
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

/** Reads one field of a message whose tag is `tag`; false when the field is not one it reads. */
type FieldReader = (this: ShapeWalker, tag: number, depth: number) => boolean;

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

  /** One message of `length` bytes whose fields `field` reads; returns how many it read. */
  private message(length: number, depth: number, field: FieldReader): number {
    return readFields(this.reader, this.reader.pos + length, (tag) => field.call(this, tag, depth));
  }

  /** A Struct whose values are at `depth`. */
  struct(length: number, depth: number): void {
    this.jsonBytes += 2;
    this.message(length, depth, this.structField);
  }

  private structField(tag: number, depth: number): boolean {
    if (tag !== 10) return false;
    this.message(this.reader.uint32(), depth, this.entryField);
    this.jsonBytes += 4;
    return true;
  }

  private entryField(tag: number, depth: number): boolean {
    if (tag === 10) this.jsonBytes += this.text();
    else if (tag === 18) this.value(this.reader.uint32(), depth);
    else return false;
    return true;
  }

  /** One Value at `depth`; every kind present is counted (decoding keeps the last). */
  private value(length: number, depth: number): void {
    // No kind: undefined, which measureProperties counts as 4.
    if (this.message(length, depth, this.valueField) === 0) this.jsonBytes += 4;
  }

  private valueField(tag: number, depth: number): boolean {
    const reader = this.reader;
    switch (tag) {
      case 8:
        reader.int32();
        this.jsonBytes += 4;
        return true;
      case 17: {
        const n = reader.double();
        if (!Number.isFinite(n)) this.finite = false;
        this.jsonBytes += numberJsonBytes(n);
        return true;
      }
      case 26:
        this.jsonBytes += this.text() + 2;
        return true;
      case 32:
        reader.bool();
        this.jsonBytes += 5;
        return true;
      case 42:
      case 50:
        if (depth > this.depth) this.depth = depth;
        if (tag === 42) this.struct(reader.uint32(), depth + 1);
        else this.list(reader.uint32(), depth + 1);
        return true;
      default:
        return false;
    }
  }

  private list(length: number, depth: number): void {
    this.jsonBytes += 2;
    this.message(length, depth, this.listField);
  }

  private listField(tag: number, depth: number): boolean {
    if (tag !== 10) return false;
    this.jsonBytes += 1;
    this.value(this.reader.uint32(), depth);
    return true;
  }
}

/**
 * The shape of the Struct of `size` bytes at `start` (the reader's position): the canonical fast
 * walk when it applies, else the generated decoder's walk, which also throws its errors. Leaves the
 * reader after the bytes the Struct decode consumes.
 */
export function measureStruct(
  reader: DepthReader,
  buf: Uint8Array,
  start: number,
  size: number,
): PropertiesShape {
  const shape = start + size <= reader.len ? fastShape(buf, start, start + size) : undefined;
  if (shape) {
    reader.pos = start + size;
    return shape;
  }
  const walker = new ShapeWalker(reader);
  walker.struct(size, 1);
  return { jsonBytes: walker.jsonBytes, depth: walker.depth, utf8: walker.utf8, finite: walker.finite };
}
