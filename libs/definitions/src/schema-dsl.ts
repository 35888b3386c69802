/**
 * A tiny schema language: the definition schema is written once as data (schema.ts) and both the
 * structural validator (with precise, all-at-once errors) and the editor JSON Schema are derived
 * from it.
 */
import { describeValue, type Issue, type PathSegment } from './errors';
import { parseDuration, parsePercent, parseTimeOfDay } from './time';

export type StringFormat =
  'duration' | 'timeOfDay' | 'waitUntil' | 'dnsLabel' | 'cel' | 'template' | 'eventType' | 'alias';

interface Base {
  description?: string;
}
export interface StringSchema extends Base {
  kind: 'string';
  format?: StringFormat;
  enum?: readonly string[];
  minLength?: number;
}
export interface NumberSchema extends Base {
  kind: 'number';
  integer?: boolean;
  minimum?: number;
  maximum?: number;
  default?: number;
}
export interface BooleanSchema extends Base {
  kind: 'boolean';
  default?: boolean;
}
export interface NullSchema extends Base {
  kind: 'null';
}
export interface PercentSchema extends Base {
  kind: 'percent';
}
export interface Property {
  schema: Schema;
  required?: boolean;
}
export interface ObjectSchema extends Base {
  kind: 'object';
  properties: Record<string, Property>;
}
export interface MapSchema extends Base {
  kind: 'map';
  keys?: readonly string[];
  values: Schema;
}
export interface ArraySchema extends Base {
  kind: 'array';
  items: Schema;
  minItems?: number;
  maxItems?: number;
}
/** One of several shapes, chosen by the JS type of the value. */
export interface UnionSchema extends Base {
  kind: 'union';
  options: Schema[];
  expected: string;
}
/** An object whose shape is chosen by which one of the variant keys it has (`event:`, `all:`, ...). */
export interface OneKeySchema extends Base {
  kind: 'oneKey';
  variants: Record<string, ObjectSchema>;
  expected: string;
}
export interface RefSchema extends Base {
  kind: 'ref';
  ref: string;
}
export type Schema =
  | StringSchema
  | NumberSchema
  | BooleanSchema
  | NullSchema
  | PercentSchema
  | ObjectSchema
  | MapSchema
  | ArraySchema
  | UnionSchema
  | OneKeySchema
  | RefSchema;

export type Definitions = Record<string, Schema>;

const FORMAT_EXPECTED: Record<StringFormat, string> = {
  duration: 'a duration like 30m',
  timeOfDay: 'a time of day like 09:00',
  waitUntil: 'a time of day like 09:00, or best_time',
  dnsLabel: 'a lower-case DNS label (a-z, 0-9, -; at most 63 characters, starting and ending alphanumeric)',
  cel: 'a CEL expression',
  template: 'a Liquid template',
  eventType: 'an event type like cart.item_added',
  alias: 'an alias name like add (letters, digits, _; starting with a letter)',
};

/** `wait: { until: best_time }`: the customer's best hour to be reached (prediction's send-time estimate). */
export const BEST_TIME = 'best_time';

const DNS_LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const EVENT_TYPE_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const ALIAS_RE = /^[A-Za-z][A-Za-z0-9_]*$/;

function formatOk(format: StringFormat, v: string): boolean {
  switch (format) {
    case 'duration':
      return parseDuration(v) !== undefined;
    case 'timeOfDay':
      return parseTimeOfDay(v) !== undefined;
    case 'waitUntil':
      return v === BEST_TIME || parseTimeOfDay(v) !== undefined;
    case 'dnsLabel':
      return DNS_LABEL_RE.test(v);
    case 'eventType':
      return EVENT_TYPE_RE.test(v);
    case 'alias':
      return ALIAS_RE.test(v);
    case 'cel':
    case 'template':
      return v.trim() !== '';
  }
}

function jsType(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Which JS types a schema accepts (for union dispatch). */
function acceptedTypes(s: Schema, defs: Definitions): string[] {
  switch (s.kind) {
    case 'string':
      return ['string'];
    case 'number':
      return ['number'];
    case 'boolean':
      return ['boolean'];
    case 'null':
      return ['null'];
    case 'percent':
      return ['string', 'number'];
    case 'object':
    case 'map':
    case 'oneKey':
      return ['object'];
    case 'array':
      return ['array'];
    case 'union':
      return s.options.flatMap((o) => acceptedTypes(o, defs));
    case 'ref':
      return acceptedTypes(defs[s.ref], defs);
  }
}

function expectedOf(s: Schema, defs: Definitions): string {
  switch (s.kind) {
    case 'string':
      if (s.enum) return `one of ${s.enum.map((e) => `'${e}'`).join(', ')}`;
      return s.format ? FORMAT_EXPECTED[s.format] : 'a string';
    case 'number': {
      const what = s.integer ? 'an integer' : 'a number';
      if (s.minimum !== undefined && s.maximum !== undefined)
        return `${what} from ${s.minimum} to ${s.maximum}`;
      if (s.minimum !== undefined) return `${what} >= ${s.minimum}`;
      return what;
    }
    case 'boolean':
      return 'true or false';
    case 'null':
      return 'nothing';
    case 'percent':
      return "a percentage like '10%' or a number from 0 to 100";
    case 'object':
    case 'map':
      return 'a mapping';
    case 'array':
      return 'a list';
    case 'union':
    case 'oneKey':
      return s.expected;
    case 'ref':
      return expectedOf(defs[s.ref], defs);
  }
}

/** Validates a plain JS value (from YAML) against a schema; pushes every problem found. */
export function validateValue(
  value: unknown,
  schema: Schema,
  defs: Definitions,
  path: PathSegment[],
  issues: Issue[],
): void {
  const fail = (message: string) => issues.push({ path, message });
  const got = () => describeValue(value);
  switch (schema.kind) {
    case 'ref':
      return validateValue(value, defs[schema.ref], defs, path, issues);
    case 'string':
      if (typeof value !== 'string') return void fail(`expected ${expectedOf(schema, defs)}, got ${got()}`);
      if (schema.enum && !schema.enum.includes(value))
        return void fail(`expected ${expectedOf(schema, defs)}, got ${got()}`);
      if (schema.minLength !== undefined && value.length < schema.minLength)
        return void fail(`expected a non-empty string`);
      if (schema.format && !formatOk(schema.format, value))
        return void fail(`expected ${FORMAT_EXPECTED[schema.format]}, got ${got()}`);
      return;
    case 'number':
      if (
        typeof value !== 'number' ||
        !Number.isFinite(value) ||
        (schema.integer && !Number.isInteger(value)) ||
        (schema.minimum !== undefined && value < schema.minimum) ||
        (schema.maximum !== undefined && value > schema.maximum)
      )
        fail(`expected ${expectedOf(schema, defs)}, got ${got()}`);
      return;
    case 'boolean':
      if (typeof value !== 'boolean') fail(`expected true or false, got ${got()}`);
      return;
    case 'null':
      if (value !== null && value !== undefined) fail(`expected nothing, got ${got()}`);
      return;
    case 'percent':
      if (parsePercent(value) === undefined) fail(`expected ${expectedOf(schema, defs)}, got ${got()}`);
      return;
    case 'array':
      if (!Array.isArray(value)) return void fail(`expected a list, got ${got()}`);
      if (schema.minItems !== undefined && value.length < schema.minItems)
        return void fail(`expected a list with at least ${schema.minItems} item(s), got ${value.length}`);
      if (schema.maxItems !== undefined && value.length > schema.maxItems)
        return void fail(`expected a list of at most ${schema.maxItems} items, got ${value.length}`);
      value.forEach((item, i) => validateValue(item, schema.items, defs, [...path, i], issues));
      return;
    case 'map':
      if (!isPlainObject(value)) return void fail(`expected a mapping, got ${got()}`);
      for (const [k, v] of Object.entries(value)) {
        if (schema.keys && !schema.keys.includes(k)) {
          issues.push({
            path: [...path, k],
            atKey: true,
            message: `unknown key '${k}' (expected one of: ${schema.keys.join(', ')})`,
          });
          continue;
        }
        validateValue(v, schema.values, defs, [...path, k], issues);
      }
      return;
    case 'object':
      if (!isPlainObject(value)) return void fail(`expected a mapping, got ${got()}`);
      return validateObject(value, schema, defs, path, issues);
    case 'oneKey': {
      if (!isPlainObject(value)) return void fail(`expected ${schema.expected}, got ${got()}`);
      const keys = Object.keys(schema.variants).filter((k) => k in value);
      if (keys.length === 0) return void fail(`expected ${schema.expected}`);
      if (keys.length > 1)
        return void fail(
          `expected exactly one of ${Object.keys(schema.variants).join(', ')}, got ${keys.join(' and ')}`,
        );
      return validateObject(value, schema.variants[keys[0]], defs, path, issues);
    }
    case 'union': {
      const t = jsType(value);
      const option = schema.options.find((o) => acceptedTypes(o, defs).includes(t));
      if (!option) return void fail(`expected ${schema.expected}, got ${got()}`);
      return validateValue(value, option, defs, path, issues);
    }
  }
}

function validateObject(
  value: Record<string, unknown>,
  schema: ObjectSchema,
  defs: Definitions,
  path: PathSegment[],
  issues: Issue[],
): void {
  const known = Object.keys(schema.properties);
  for (const [k, v] of Object.entries(value)) {
    // Own properties only: a key such as `__proto__` must not find Object.prototype.
    const prop = Object.hasOwn(schema.properties, k) ? schema.properties[k] : undefined;
    if (!prop) {
      issues.push({
        path: [...path, k],
        atKey: true,
        message: `unknown field '${k}' (expected one of: ${known.join(', ')})`,
      });
      continue;
    }
    validateValue(v, prop.schema, defs, [...path, k], issues);
  }
  for (const [k, prop] of Object.entries(schema.properties)) {
    if (prop.required && !(k in value)) {
      issues.push({ path, message: `missing required field '${k}' (${expectedOf(prop.schema, defs)})` });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// JSON Schema (draft 2020-12) derivation

type Json = Record<string, unknown>;

const FORMAT_PATTERN: Partial<Record<StringFormat, string>> = {
  duration: '^(?:\\d+d)?(?:\\d+h)?(?:\\d+m)?(?:\\d+s)?(?:\\d+ms)?$',
  timeOfDay: '^([01]\\d|2[0-3]):([0-5]\\d)$',
  waitUntil: `^(${BEST_TIME}|([01]\\d|2[0-3]):([0-5]\\d))$`,
  dnsLabel: DNS_LABEL_RE.source,
  eventType: EVENT_TYPE_RE.source,
  alias: ALIAS_RE.source,
};

export function toJsonSchema(s: Schema, defs: Definitions): Json {
  const out = toJsonInner(s, defs);
  if (s.description && s.kind !== 'ref') out.description = s.description;
  return out;
}

function toJsonInner(s: Schema, defs: Definitions): Json {
  switch (s.kind) {
    case 'ref':
      return s.description
        ? { $ref: `#/$defs/${s.ref}`, description: s.description }
        : { $ref: `#/$defs/${s.ref}` };
    case 'string': {
      const out: Json = { type: 'string' };
      if (s.enum) out.enum = [...s.enum];
      if (s.minLength) out.minLength = s.minLength;
      if (s.format && FORMAT_PATTERN[s.format]) out.pattern = FORMAT_PATTERN[s.format];
      if (s.format === 'duration') out.minLength = 2;
      if (s.format === 'dnsLabel') out.maxLength = 63;
      if (s.format === 'cel' || s.format === 'template') out.minLength = 1;
      return out;
    }
    case 'number': {
      const out: Json = { type: s.integer ? 'integer' : 'number' };
      if (s.minimum !== undefined) out.minimum = s.minimum;
      if (s.maximum !== undefined) out.maximum = s.maximum;
      if (s.default !== undefined) out.default = s.default;
      return out;
    }
    case 'boolean':
      return s.default !== undefined ? { type: 'boolean', default: s.default } : { type: 'boolean' };
    case 'null':
      return { type: 'null' };
    case 'percent':
      return {
        oneOf: [
          { type: 'string', pattern: '^\\d+(\\.\\d+)?%$' },
          { type: 'number', minimum: 0, maximum: 100 },
        ],
      };
    case 'array': {
      const out: Json = { type: 'array', items: toJsonSchema(s.items, defs) };
      if (s.minItems !== undefined) out.minItems = s.minItems;
      if (s.maxItems !== undefined) out.maxItems = s.maxItems;
      return out;
    }
    case 'map':
      if (s.keys) {
        return {
          type: 'object',
          propertyNames: { enum: [...s.keys] },
          additionalProperties: toJsonSchema(s.values, defs),
        };
      }
      return { type: 'object', additionalProperties: toJsonSchema(s.values, defs) };
    case 'object':
      return objectJson(s, defs);
    case 'oneKey':
      return { oneOf: Object.values(s.variants).map((v) => objectJson(v, defs)) };
    case 'union':
      return { oneOf: s.options.map((o) => toJsonSchema(o, defs)) };
  }
}

function objectJson(s: ObjectSchema, defs: Definitions): Json {
  const properties: Json = {};
  const required: string[] = [];
  for (const [k, p] of Object.entries(s.properties)) {
    properties[k] = toJsonSchema(p.schema, defs);
    if (p.required) required.push(k);
  }
  const out: Json = { type: 'object', properties, additionalProperties: false };
  if (required.length) out.required = required;
  if (s.description) out.description = s.description;
  return out;
}
