import {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type Link,
  type Span,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';

/** Anything with header get/set, e.g. NATS MsgHdrs. Keeps this library free of NATS types. */
export interface HeaderCarrier {
  get(key: string): string;
  set(key: string, value: string): void;
}

const setter: TextMapSetter<HeaderCarrier> = { set: (c, k, v) => c.set(k, v) };
const getter: TextMapGetter<HeaderCarrier | undefined> = {
  get: (c, k) => c?.get(k) || undefined,
  keys: () => ['traceparent', 'tracestate'],
};

const tracer = () => trace.getTracer('kairos-messaging');

/** Writes the active trace context (traceparent, tracestate) into message headers. */
export function injectTraceContext(headers: HeaderCarrier, ctx: Context = context.active()): void {
  propagation.inject(ctx, headers, setter);
}

export function extractTraceContext(headers: HeaderCarrier | undefined): Context {
  return propagation.extract(context.active(), headers, getter);
}

/** A trace context kept with work that resumes later, in another call stack (W3C traceparent, tracestate). */
export type StoredTraceContext = Record<string, string>;

/** The active trace context as a plain record to store; undefined when there is none to continue. */
export function captureTraceContext(ctx: Context = context.active()): StoredTraceContext | undefined {
  const carrier: StoredTraceContext = {};
  propagation.inject(ctx, carrier);
  return carrier.traceparent ? carrier : undefined;
}

/**
 * Runs `fn` under a trace context stored by captureTraceContext, so what it publishes continues that
 * trace whatever started the current call stack (a timer, a redelivery); without one, under the
 * active context.
 */
export function withStoredTraceContext<T>(stored: StoredTraceContext | undefined, fn: () => T): T {
  if (!stored?.traceparent) return fn();
  return context.with(propagation.extract(ROOT_CONTEXT, stored), fn);
}

async function inSpan<T>(span: Span, ctx: Context, fn: (span: Span) => Promise<T>): Promise<T> {
  try {
    return await context.with(trace.setSpan(ctx, span), () => fn(span));
  } catch (err) {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
    throw err;
  } finally {
    span.end();
  }
}

/** Runs `fn` inside a PRODUCER span named `<subject> publish`; inject headers inside it. */
export function withProducerSpan<T>(subject: string, fn: (span: Span) => Promise<T>): Promise<T> {
  const span = tracer().startSpan(`${subject} publish`, {
    kind: SpanKind.PRODUCER,
    attributes: {
      'messaging.system': 'nats',
      'messaging.destination.name': subject,
      'messaging.operation.type': 'publish',
    },
  });
  return inSpan(span, context.active(), fn);
}

/** Runs `fn` inside a CONSUMER span that continues the trace carried in the message headers. */
export function withConsumerSpan<T>(
  subject: string,
  headers: HeaderCarrier | undefined,
  attributes: Record<string, string | number>,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = extractTraceContext(headers);
  const span = tracer().startSpan(
    `${subject} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'nats',
        'messaging.destination.name': subject,
        'messaging.operation.type': 'process',
        ...attributes,
      },
    },
    parent,
  );
  return inSpan(span, parent, fn);
}

/**
 * Runs `fn` inside one CONSUMER span named `<name> process` for a whole batch of messages, linked to
 * the trace each message carries (a span per message costs more than handling one), under the
 * active context.
 */
export function withBatchConsumerSpan<T>(
  name: string,
  headers: ReadonlyArray<HeaderCarrier | undefined>,
  attributes: Record<string, string | number>,
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  const span = tracer().startSpan(`${name} process`, {
    kind: SpanKind.CONSUMER,
    attributes: {
      'messaging.system': 'nats',
      'messaging.operation.type': 'process',
      'messaging.batch.message_count': headers.length,
      ...attributes,
    },
  });
  // Reading each message's trace costs more than the rest of the span: only for a recorded span.
  if (span.isRecording()) {
    const links: Link[] = [];
    for (const h of headers) {
      if (!h?.get('traceparent')) continue;
      const sc = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, h, getter));
      if (sc && trace.isSpanContextValid(sc)) links.push({ context: sc });
    }
    span.addLinks(links);
  }
  return inSpan(span, context.active(), fn);
}

/** Trace and span id of the active span, for log lines and message metadata. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const span = trace.getSpan(context.active());
  const sc = span?.spanContext();
  if (!sc || !trace.isSpanContextValid(sc)) return undefined;
  return { trace_id: sc.traceId, span_id: sc.spanId };
}
