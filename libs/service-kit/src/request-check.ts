// Checks an encoded gRPC request against its proto schema before the generated decoder reads it.
//
// The ts-proto decoders are lenient where the API must not be: a `string` field with invalid UTF-8
// becomes U+FFFD (so `X\xff` and `X\xfe` decode to the same id), and what they cannot decode (deep
// nesting, a 64-bit integer past 2^53) throws, which grpc-js answers INTERNAL. This walk reads the
// wire the way the generated decoders do (same fields, same handling of unknown fields and end-group
// tags, same message recursion count) without building anything, and names the first field that
// breaks a rule, by its proto path (`events[3].customer_id`). Rules, in docs/operations.md:
// - every string (field, map key or value, Struct key or string value) is well-formed UTF-8;
// - Struct / ListValue values nest at most STRUCT_NESTING_LIMIT levels (the Struct itself is level 1);
// - messages nest at most MESSAGE_NESTING_LIMIT levels (the generated decoders' own limit);
// - 64-bit integers fit a JS number exactly (|n| ≤ 2^53 - 1);
// - a google.protobuf.Timestamp lies between 0001-01-01 and 9999-12-31, |nanos| < 1e9.
import { isUtf8 } from 'node:buffer';
import { join } from 'node:path';
import * as protobuf from 'protobufjs';
import { cutInput, cutPath } from '@kairos/contracts';

export const STRUCT_NESTING_LIMIT = 32;
export const MESSAGE_NESTING_LIMIT = 100;
/** Timestamp bounds of google/protobuf/timestamp.proto: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z. */
const MIN_SECONDS = -62_135_596_800;
const MAX_SECONDS = 253_402_300_799;

const enum Kind {
  String,
  Message,
  /** An int64, uint64 or sint64 field (a varint). */
  Varint64,
  /** A fixed64 or sfixed64 field. */
  Fixed64,
}

interface FieldPlan {
  /** Path segment: `.name` for fields, '' for Struct internals (keys and indexes say enough). */
  name: string;
  kind: Kind;
  unsigned: boolean;
  zigzag: boolean;
  /** Indexes are shown for repeated fields (`[3]`); map entries show their key instead. */
  repeated: boolean;
  map: boolean;
  /** Key style of a map entry: `["key"]` for proto maps, `.key` for Struct fields. */
  structKey: boolean;
  message?: MessagePlan;
  slot: number;
}

interface MessagePlan {
  /** By tag (field number << 3 | wire type); a dense array, as tags of Kairos protos are small. */
  fields: Array<FieldPlan | undefined>;
  slots: number;
  /** Whether the field is a google.protobuf.Struct or ListValue, which counts as one nesting level. */
  nests: boolean;
  timestamp: boolean;
}

/** A rule broken at a path; the path is assembled while the walk unwinds (nothing is built otherwise). */
class Violation extends Error {
  path = '';
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH = 2;

function segmentForKey(key: Uint8Array | undefined, structKey: boolean): string {
  if (key === undefined) return structKey ? '.?' : '[?]';
  let text = isUtf8(key) ? Buffer.from(key).toString('utf8') : '<invalid UTF-8>';
  text = cutInput(text, 32);
  return structKey && /^[A-Za-z_][A-Za-z0-9_]*$/.test(text) ? `.${text}` : `[${JSON.stringify(text)}]`;
}

/** Plans per message type, built once from the proto schema. */
export class RequestChecker {
  private readonly plans = new Map<string, MessagePlan>();

  constructor(private readonly root: protobuf.Root) {}

  /** The request message type of `service`'s method `rpc` (e.g. kairos.ingest.v1.IngestService, Track). */
  requestType(service: string, rpc: string): string {
    const method = this.root.lookupService(service).methods[rpc];
    if (!method?.resolvedRequestType) throw new Error(`no method ${rpc} in the proto of ${service}`);
    return method.resolvedRequestType.fullName;
  }

  /** The plan for a fully qualified message name (with or without the leading dot). */
  planFor(typeName: string): MessagePlan {
    return this.plan(this.root.lookupType(typeName));
  }

  private plan(type: protobuf.Type): MessagePlan {
    const name = type.fullName;
    const existing = this.plans.get(name);
    if (existing) return existing;
    const plan: MessagePlan = {
      fields: [],
      slots: 0,
      nests: name === '.google.protobuf.Struct' || name === '.google.protobuf.ListValue',
      timestamp: name === '.google.protobuf.Timestamp',
    };
    this.plans.set(name, plan);
    if (plan.timestamp) return plan; // read by hand in Walk.message, for the range check
    const internal = name.startsWith('.google.protobuf.') && !plan.timestamp;
    for (const field of type.fieldsArray) {
      field.resolve();
      const segment = internal ? '' : `.${field.name}`;
      if (field.map) {
        const entry: MessagePlan = { fields: [], slots: 0, nests: false, timestamp: false };
        this.add(entry, 1, { kind: Kind.String, name: '', repeated: false, message: undefined });
        const value = this.describe(field);
        if (value) this.add(entry, 2, { ...value, name: '', repeated: false });
        this.add(plan, field.id, {
          kind: Kind.Message,
          name: segment,
          repeated: false,
          message: entry,
          map: true,
          structKey: internal,
        });
        continue;
      }
      const described = this.describe(field);
      if (described) this.add(plan, field.id, { ...described, name: segment, repeated: field.repeated });
    }
    return plan;
  }

  private describe(
    field: protobuf.Field,
  ): Pick<FieldPlan, 'kind' | 'unsigned' | 'zigzag' | 'message'> | undefined {
    if (field.resolvedType instanceof protobuf.Type) {
      return { kind: Kind.Message, unsigned: false, zigzag: false, message: this.plan(field.resolvedType) };
    }
    switch (field.type) {
      case 'string':
        return { kind: Kind.String, unsigned: false, zigzag: false };
      case 'int64':
      case 'uint64':
      case 'sint64':
        return { kind: Kind.Varint64, unsigned: field.type === 'uint64', zigzag: field.type === 'sint64' };
      case 'fixed64':
      case 'sfixed64':
        return { kind: Kind.Fixed64, unsigned: field.type === 'fixed64', zigzag: false };
      default:
        return undefined; // other scalars decode whatever their bytes
    }
  }

  private add(
    plan: MessagePlan,
    id: number,
    f: Partial<FieldPlan> & Pick<FieldPlan, 'kind' | 'name' | 'repeated'>,
  ): void {
    const field: FieldPlan = {
      unsigned: false,
      zigzag: false,
      map: false,
      structKey: false,
      ...f,
      slot: plan.slots++,
    };
    if (field.kind === Kind.String || field.kind === Kind.Message)
      plan.fields[(id << 3) | WIRE_LENGTH] = field;
    else {
      plan.fields[(id << 3) | (field.kind === Kind.Varint64 ? WIRE_VARINT : WIRE_FIXED64)] = field;
      if (field.repeated) plan.fields[(id << 3) | WIRE_LENGTH] = field; // packed
    }
  }

  /** The first broken rule as `<path>: <problem>` (path without a leading dot), or undefined. */
  check(plan: MessagePlan, bytes: Uint8Array): string | undefined {
    const walk = new Walk(bytes);
    try {
      walk.message(plan, bytes.length, 0);
      return undefined;
    } catch (err) {
      if (!(err instanceof Violation)) throw err;
      const path = cutPath(err.path.startsWith('.') ? err.path.slice(1) : err.path);
      return path ? `${path}: ${err.message}` : err.message;
    }
  }
}

/** One walk over one request's bytes. */
class Walk {
  pos = 0;
  private messages = 0;

  constructor(private readonly buf: Uint8Array) {}

  private fail(problem: string): never {
    throw new Violation(problem);
  }

  private varint32(): number {
    // As BinaryReader.uint32: up to 10 bytes, the low 32 bits kept.
    let value = 0;
    for (let shift = 0; shift < 70; shift += 7) {
      if (this.pos >= this.buf.length) this.fail('not valid protobuf (truncated varint)');
      const b = this.buf[this.pos++];
      if (shift < 32) value |= (b & 0x7f) << shift;
      if (b < 0x80) return value >>> 0;
    }
    this.fail('not valid protobuf (varint longer than 10 bytes)');
  }

  /** A varint as a bigint when it does not fit 49 bits, else as a number. */
  private varint64(): number | bigint {
    const start = this.pos;
    let small = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.buf.length) this.fail('not valid protobuf (truncated varint)');
      const b = this.buf[this.pos++];
      if (i < 7) small += (b & 0x7f) * 2 ** (7 * i);
      if (b < 0x80) {
        if (i < 7) return small;
        let big = 0n;
        for (let j = this.pos - 1; j >= start; j--) big = (big << 7n) | BigInt(this.buf[j] & 0x7f);
        return BigInt.asUintN(64, big);
      }
    }
    this.fail('not valid protobuf (varint longer than 10 bytes)');
  }

  private fixed64(): bigint {
    if (this.pos + 8 > this.buf.length) this.fail('not valid protobuf (truncated fixed64)');
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(this.buf[this.pos + i]);
    this.pos += 8;
    return v;
  }

  private int64(field: FieldPlan, wire: number): number {
    let v: number | bigint = wire === WIRE_FIXED64 ? this.fixed64() : this.varint64();
    if (typeof v === 'bigint') {
      if (field.zigzag) v = (v >> 1n) ^ -(v & 1n);
      else if (!field.unsigned) v = BigInt.asIntN(64, v);
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
        this.fail(`${v} is out of range (at most 2^53 - 1 in magnitude)`);
      }
      return Number(v);
    }
    return field.zigzag ? (v % 2 === 0 ? v / 2 : -(v + 1) / 2) : v;
  }

  private length(): number {
    const len = this.varint32();
    if (this.pos + len > this.buf.length) this.fail('not valid protobuf (length past the end)');
    return len;
  }

  /** Skips one value of an unknown field, as BinaryReader.skip does for wire types other than groups. */
  private skipValue(wire: number): void {
    switch (wire) {
      case WIRE_VARINT:
        while (this.buf[this.pos++] & 0x80) {
          // as BinaryReader: continuation bits until one is clear (or the end)
        }
        break;
      case WIRE_FIXED64:
        this.pos += 8;
        break;
      case WIRE_LENGTH: {
        const len = this.length(); // read first: `pos += length()` would add to the old pos
        this.pos += len;
        break;
      }
      case 5:
        this.pos += 4;
        break;
      default:
        this.fail(`not valid protobuf (cannot skip wire type ${wire})`);
    }
    if (this.pos > this.buf.length) this.fail('not valid protobuf (field past the end)');
  }

  /**
   * Skips an unknown field as BinaryReader.skip does, groups iteratively (same rules: tags inside a
   * group are checked, a nested group must end with its own field number, at most 100 nested).
   */
  private skip(wire: number): void {
    if (wire !== 3) return this.skipValue(wire);
    // Field numbers of the open groups; the outermost end tag is not compared (skip without fieldNo).
    const open: number[] = [-1];
    while (open.length > 0) {
      const start = this.pos;
      const tag = this.varint32();
      const read = this.pos - start;
      if (read > 5 || (read === 5 && this.buf[this.pos - 1] > 0x0f)) {
        this.fail('not valid protobuf (tag overflows 32 bits)');
      }
      const fieldNo = tag >>> 3;
      const type = tag & 7;
      if (fieldNo <= 0 || type > 5) this.fail(`not valid protobuf (illegal tag ${fieldNo}/${type})`);
      if (type === 4) {
        const expected = open.pop()!;
        if (expected !== -1 && expected !== fieldNo) this.fail('not valid protobuf (unmatched end group)');
      } else if (type === 3) {
        if (open.length >= 100) this.fail('not valid protobuf (groups nested deeper than 100)');
        open.push(fieldNo);
      } else this.skipValue(type);
    }
  }

  private enter(): void {
    if (this.messages >= MESSAGE_NESTING_LIMIT) {
      this.fail(`messages nested deeper than ${MESSAGE_NESTING_LIMIT} levels`);
    }
    this.messages++;
  }

  /** A message of `length` bytes at pos (`nesting`: Struct/ListValue levels around it). */
  message(plan: MessagePlan, length: number, nesting: number): void {
    this.enter();
    if (plan.nests && ++nesting > STRUCT_NESTING_LIMIT) {
      this.fail(`nested deeper than ${STRUCT_NESTING_LIMIT} levels (Struct / ListValue)`);
    }
    const end = this.pos + length;
    let counts: number[] | undefined;
    let seconds: number | bigint = 0;
    let nanos = 0;
    while (this.pos < end) {
      const tag = this.varint32();
      const field = tag < plan.fields.length ? plan.fields[tag] : undefined;
      if (field === undefined) {
        if (plan.timestamp && (tag === 8 || tag === 16)) {
          // Timestamp: seconds (int64) and nanos (int32), read for the range check.
          const v = this.varint64();
          if (tag === 8) seconds = typeof v === 'bigint' ? BigInt.asIntN(64, v) : v;
          else nanos = typeof v === 'bigint' ? Number(BigInt.asIntN(32, v)) : v | 0;
          continue;
        }
        if ((tag & 7) === 4 || tag === 0) break;
        this.skip(tag & 7);
        continue;
      }
      let index = -1;
      if (field.repeated) {
        counts ??= new Array<number>(plan.slots).fill(0);
        index = counts[field.slot]++;
      }
      try {
        this.field(field, tag & 7, nesting);
      } catch (err) {
        if (err instanceof Violation && !field.map) {
          err.path = (index < 0 ? field.name : `${field.name}[${index}]`) + err.path;
        }
        throw err;
      }
    }
    this.messages--;
    if (plan.timestamp) {
      if (seconds < MIN_SECONDS || seconds > MAX_SECONDS) {
        this.fail(`seconds ${seconds} is out of range (a Timestamp lies in years 0001 to 9999)`);
      }
      // ts-proto writes pre-1970 times with negative nanos (seconds truncated toward zero): accepted.
      if (nanos < -999_999_999 || nanos > 999_999_999) {
        this.fail(`nanos ${nanos} is out of range (at most 999999999 in magnitude)`);
      }
    }
  }

  /** One map entry (key = 1, value = 2), named `field["key"]` (or `.key` in a Struct). */
  private entry(map: FieldPlan, length: number, nesting: number): void {
    this.enter();
    const plan = map.message!;
    const end = this.pos + length;
    let keyStart = -1; // the key's bytes, read again only to name it in an error
    let keyEnd = -1;
    try {
      while (this.pos < end) {
        const tag = this.varint32();
        const field = tag < plan.fields.length ? plan.fields[tag] : undefined;
        if (field === undefined) {
          if ((tag & 7) === 4 || tag === 0) break;
          this.skip(tag & 7);
          continue;
        }
        if (field.slot === 0) {
          if (!this.string()) this.fail('key is not valid UTF-8');
          keyEnd = this.pos;
          keyStart = keyEnd - this.lastLength;
        } else this.field(field, tag & 7, nesting);
      }
    } catch (err) {
      if (err instanceof Violation) {
        const key = keyStart < 0 ? undefined : this.buf.subarray(keyStart, keyEnd);
        err.path = map.name + segmentForKey(key, map.structKey) + err.path;
      }
      throw err;
    }
    this.messages--;
  }

  /** Length of the last string read. */
  private lastLength = 0;

  /** Reads a string field: false when its bytes are not UTF-8 (ASCII is checked without a view). */
  private string(): boolean {
    const len = this.length();
    const buf = this.buf;
    const start = this.pos;
    const end = start + len;
    this.pos = end;
    this.lastLength = len;
    for (let i = start; i < end; i++) if (buf[i] > 0x7f) return isUtf8(buf.subarray(start, end));
    return true;
  }

  private field(field: FieldPlan, wire: number, nesting: number): void {
    switch (field.kind) {
      case Kind.String:
        if (!this.string()) this.fail('not valid UTF-8');
        return;
      case Kind.Message: {
        const len = this.length();
        if (field.map) return this.entry(field, len, nesting);
        return this.message(field.message!, len, nesting);
      }
      default:
        if (wire === WIRE_LENGTH) {
          const len = this.length();
          const end = this.pos + len;
          while (this.pos < end) this.int64(field, field.kind === Kind.Fixed64 ? WIRE_FIXED64 : WIRE_VARINT);
        } else this.int64(field, wire);
    }
  }
}

let schema: protobuf.Root | undefined;

/** The proto schema of every Kairos service (loaded once, from the proto/ folder). */
export function loadSchema(dir: string, files: string[]): protobuf.Root {
  if (schema) return schema;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => join(dir, target);
  root.loadSync(files, { keepCase: true });
  root.resolveAll();
  return (schema = root);
}
