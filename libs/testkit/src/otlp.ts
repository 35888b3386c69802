import { AssertionError } from 'node:assert';
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';

export type SpanKindName = 'UNSPECIFIED' | 'INTERNAL' | 'SERVER' | 'CLIENT' | 'PRODUCER' | 'CONSUMER';
const KINDS: SpanKindName[] = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'];

export type AttributeValue =
  string | number | boolean | null | AttributeValue[] | { [k: string]: AttributeValue };

export interface CollectedSpan {
  /** 32 lower-case hex chars. */
  traceId: string;
  /** 16 lower-case hex chars. */
  spanId: string;
  /** 16 lower-case hex chars, or undefined for a root span. */
  parentSpanId: string | undefined;
  name: string;
  kind: SpanKindName;
  /** `service.name` of the resource that reported the span. */
  serviceName: string | undefined;
  attributes: Record<string, AttributeValue>;
  resourceAttributes: Record<string, AttributeValue>;
  scopeName: string | undefined;
  /** Nanoseconds since the epoch, as a decimal string (too large for a JS number). */
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
  statusMessage: string | undefined;
  events: Array<{ name: string; timeUnixNano: string; attributes: Record<string, AttributeValue> }>;
  /** Spans this one links to (another trace's span, e.g. the event that caused it). */
  links: Array<{ traceId: string; spanId: string; attributes: Record<string, AttributeValue> }>;
}

export interface OtlpReceiver {
  /** Base endpoint for `OTEL_EXPORTER_OTLP_ENDPOINT` (e.g. `http://127.0.0.1:4318`). */
  readonly url: string;
  /** Full traces endpoint (`<url>/v1/traces`), for `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`. */
  readonly tracesUrl: string;
  /** Every span received so far, in arrival order. */
  readonly spans: CollectedSpan[];
  /** Resolves with all spans once `predicate(spans)` holds; rejects after `timeoutMs` (default 10 s). */
  waitForSpans(predicate: (spans: CollectedSpan[]) => boolean, timeoutMs?: number): Promise<CollectedSpan[]>;
  /** Spans of one trace. */
  trace(traceId: string): CollectedSpan[];
  /** Forgets every collected span. */
  clear(): void;
  stop(): Promise<void>;
}

/** Hex of an OTLP JSON id: the spec mandates hex; base64 (protobuf-JSON mapping) is accepted too. */
function idToHex(id: unknown): string | undefined {
  if (typeof id !== 'string' || id === '') return undefined;
  const hex =
    /^[0-9a-fA-F]+$/.test(id) && (id.length === 32 || id.length === 16) ? id.toLowerCase() : undefined;
  const value = hex ?? Buffer.from(id, 'base64').toString('hex');
  return /^0+$/.test(value) ? undefined : value;
}

function nanos(value: unknown): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return BigInt(Math.round(value)).toString();
  if (value && typeof value === 'object' && 'low' in value && 'high' in value) {
    const { low, high } = value as { low: number; high: number };
    return ((BigInt(high >>> 0) << 32n) + BigInt(low >>> 0)).toString();
  }
  return '0';
}

function anyValue(value: any): AttributeValue {
  if (value === null || value === undefined || typeof value !== 'object') return null;
  if ('stringValue' in value) return value.stringValue;
  if ('boolValue' in value) return value.boolValue;
  if ('intValue' in value) return Number(value.intValue);
  if ('doubleValue' in value) return Number(value.doubleValue);
  if ('bytesValue' in value) return value.bytesValue;
  if ('arrayValue' in value) return ((value.arrayValue?.values ?? []) as unknown[]).map(anyValue);
  if ('kvlistValue' in value) return attributes(value.kvlistValue?.values);
  return null;
}

function attributes(list: unknown): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  if (!Array.isArray(list)) return out;
  for (const kv of list) if (kv && typeof kv.key === 'string') out[kv.key] = anyValue(kv.value);
  return out;
}

/** Flattens an OTLP JSON `ExportTraceServiceRequest` into spans. */
export function flattenOtlpTraces(body: any): CollectedSpan[] {
  const out: CollectedSpan[] = [];
  for (const rs of body?.resourceSpans ?? []) {
    const resourceAttributes = attributes(rs?.resource?.attributes);
    const serviceName = resourceAttributes['service.name'];
    for (const ss of rs?.scopeSpans ?? rs?.instrumentationLibrarySpans ?? []) {
      const scopeName = ss?.scope?.name ?? ss?.instrumentationLibrary?.name;
      for (const span of ss?.spans ?? []) {
        const kind = typeof span.kind === 'number' ? KINDS[span.kind] : String(span.kind ?? '');
        out.push({
          traceId: idToHex(span.traceId) ?? '',
          spanId: idToHex(span.spanId) ?? '',
          parentSpanId: idToHex(span.parentSpanId),
          name: String(span.name ?? ''),
          kind: (kind?.replace(/^SPAN_KIND_/, '') as SpanKindName) || 'UNSPECIFIED',
          serviceName: typeof serviceName === 'string' ? serviceName : undefined,
          attributes: attributes(span.attributes),
          resourceAttributes,
          scopeName,
          startTimeUnixNano: nanos(span.startTimeUnixNano),
          endTimeUnixNano: nanos(span.endTimeUnixNano),
          statusCode: Number(span.status?.code ?? 0),
          statusMessage: span.status?.message || undefined,
          events: (span.events ?? []).map((e: any) => ({
            name: String(e.name ?? ''),
            timeUnixNano: nanos(e.timeUnixNano),
            attributes: attributes(e.attributes),
          })),
          links: (span.links ?? []).map((l: any) => ({
            traceId: idToHex(l.traceId) ?? '',
            spanId: idToHex(l.spanId) ?? '',
            attributes: attributes(l.attributes),
          })),
        });
      }
    }
  }
  return out;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const encoding = (req.headers['content-encoding'] ?? '').toLowerCase();
      try {
        resolve(encoding === 'gzip' ? gunzipSync(raw) : encoding === 'deflate' ? inflateSync(raw) : raw);
      } catch (err) {
        reject(err);
      }
    });
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Starts an in-process OTLP/HTTP receiver on a free port of `host` (default 127.0.0.1). It accepts
 * `POST /v1/traces` in OTLP JSON (optionally gzip), answers 415 for protobuf, and accepts
 * `/v1/metrics` and `/v1/logs` (discarded) so exporters pointed at the base URL never fail.
 */
export async function startOtlpReceiver(
  options: { port?: number; host?: string } = {},
): Promise<OtlpReceiver> {
  const host = options.host ?? '127.0.0.1';
  const spans: CollectedSpan[] = [];
  const waiters = new Set<() => void>();
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'POST' || !['/v1/traces', '/v1/metrics', '/v1/logs'].includes(path)) {
      reply(res, 404, { error: `not found: ${req.method} ${path}` });
      return;
    }
    const type = (req.headers['content-type'] ?? '').toLowerCase();
    readBody(req).then(
      (body) => {
        if (!type.includes('json')) {
          reply(res, 415, {
            error:
              'the testkit OTLP receiver only decodes OTLP JSON (set OTEL_EXPORTER_OTLP_PROTOCOL=http/json)',
          });
          return;
        }
        let parsed: unknown;
        try {
          parsed = body.length ? JSON.parse(body.toString('utf8')) : {};
        } catch (err) {
          reply(res, 400, { error: `invalid JSON: ${(err as Error).message}` });
          return;
        }
        if (path === '/v1/traces') {
          spans.push(...flattenOtlpTraces(parsed));
          for (const wake of [...waiters]) wake();
        }
        reply(res, 200, {});
      },
      (err: Error) => reply(res, 400, { error: err.message }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host}:${port}`;

  return {
    url,
    tracesUrl: `${url}/v1/traces`,
    spans,
    trace: (traceId) => spans.filter((s) => s.traceId === traceId.toLowerCase()),
    clear: () => {
      spans.length = 0;
    },
    waitForSpans(predicate, timeoutMs = 10_000) {
      return new Promise<CollectedSpan[]>((resolve, reject) => {
        const check = (): boolean => {
          try {
            if (!predicate(spans)) return false;
          } catch (err) {
            finish();
            reject(err);
            return true;
          }
          finish();
          resolve(spans);
          return true;
        };
        const timer = setTimeout(() => {
          finish();
          reject(
            new Error(
              `waitForSpans: condition not met within ${timeoutMs} ms; ${spans.length} spans collected:\n` +
                renderSpans(spans),
            ),
          );
        }, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          waiters.delete(wake);
        };
        const wake = (): void => void check();
        waiters.add(wake);
        check();
      });
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

function describeSpan(s: CollectedSpan): string {
  return `${s.name} [${s.kind}${s.serviceName ? ` ${s.serviceName}` : ''}] ${s.spanId}`;
}

/** Renders the spans of every trace (or of `traceId`) as indented trees, for assertion messages. */
export function renderSpans(spans: CollectedSpan[], traceId?: string): string {
  const selected = traceId ? spans.filter((s) => s.traceId === traceId) : spans;
  const byParent = new Map<string | undefined, CollectedSpan[]>();
  const ids = new Set(selected.map((s) => `${s.traceId}/${s.spanId}`));
  for (const s of selected) {
    const parentKnown = s.parentSpanId && ids.has(`${s.traceId}/${s.parentSpanId}`);
    const key = parentKnown ? `${s.traceId}/${s.parentSpanId}` : undefined;
    byParent.set(key, [...(byParent.get(key) ?? []), s]);
  }
  const lines: string[] = [];
  const walk = (s: CollectedSpan, depth: number): void => {
    lines.push(`${'  '.repeat(depth)}${describeSpan(s)}`);
    for (const c of byParent.get(`${s.traceId}/${s.spanId}`) ?? []) walk(c, depth + 1);
  };
  for (const root of byParent.get(undefined) ?? []) {
    if (!traceId) lines.push(`trace ${root.traceId}${root.parentSpanId ? ' (parent not collected)' : ''}:`);
    walk(root, traceId ? 0 : 1);
  }
  return lines.join('\n');
}

export type SpanMatcher = string | RegExp | ((span: CollectedSpan) => boolean);

function matches(span: CollectedSpan, m: SpanMatcher): boolean {
  if (typeof m === 'string') return span.name === m;
  if (m instanceof RegExp) return m.test(span.name);
  return m(span);
}

/** Matches the spans that `service` records of `kind` (e.g. PRODUCER), and whose name matches `name`. */
export function spanOf(service: string, kind: string, name?: RegExp): (span: CollectedSpan) => boolean {
  return (s) => s.serviceName === service && s.kind === kind && (!name || name.test(s.name));
}

/** Waits until trace `traceId` holds a span of `service` of `kind`; on timeout throws showing the trace. */
export async function waitForTraceSpan(
  receiver: OtlpReceiver,
  traceId: string,
  service: string,
  kind: string,
  timeoutMs: number,
): Promise<void> {
  const wanted = spanOf(service, kind);
  await receiver
    .waitForSpans((spans) => spans.some((s) => s.traceId === traceId && wanted(s)), timeoutMs)
    .catch(() => {
      throw new Error(`trace incomplete:\n${renderSpans(receiver.spans, traceId)}`);
    });
}

/** Finds the first span matching; useful to pick the trace id to assert on. */
export function findSpan(spans: CollectedSpan[], matcher: SpanMatcher): CollectedSpan | undefined {
  return spans.find((s) => matches(s, matcher));
}

/**
 * Asserts that, within trace `traceId`, for every `[parent, child]` pair some span matching `child` has a
 * span matching `parent` as its direct parent (or as an ancestor with `{ indirect: true }`).
 * Matchers: exact name, RegExp on the name, or a predicate. Throws an AssertionError showing the trace.
 */
export function assertTraceEdges(
  spans: CollectedSpan[],
  traceId: string,
  expected: Array<[SpanMatcher, SpanMatcher]>,
  options: { indirect?: boolean } = {},
): void {
  const trace = spans.filter((s) => s.traceId === traceId.toLowerCase());
  const byId = new Map(trace.map((s) => [s.spanId, s]));
  const missing: string[] = [];
  for (const [parent, child] of expected) {
    const found = trace.some((c) => {
      if (!matches(c, child)) return false;
      let p = c.parentSpanId ? byId.get(c.parentSpanId) : undefined;
      while (p) {
        if (matches(p, parent)) return true;
        if (!options.indirect) return false;
        p = p.parentSpanId ? byId.get(p.parentSpanId) : undefined;
      }
      return false;
    });
    if (!found) missing.push(`${String(parent)} -> ${String(child)}`);
  }
  if (missing.length > 0) {
    throw new AssertionError({
      message:
        `trace ${traceId} lacks the edge(s):\n  ${missing.join('\n  ')}\n` +
        `trace has ${trace.length} span(s):\n${renderSpans(trace, traceId.toLowerCase()) || '  (none)'}`,
    });
  }
}
