import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/** Tracing into memory for tests, in place of the SDK the preload starts. */
export interface InMemoryTracing {
  /** Holds every finished span while installed. */
  readonly exporter: InMemorySpanExporter;
  /** Sets the global tracer, async-local context and W3C propagation. */
  install(): void;
  /** Removes the globals again. */
  uninstall(): void;
}

export function inMemoryTracing(): InMemoryTracing {
  const exporter = new InMemorySpanExporter();
  return {
    exporter,
    install() {
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      propagation.setGlobalPropagator(new W3CTraceContextPropagator());
      trace.setGlobalTracerProvider(
        new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
      );
    },
    uninstall() {
      trace.disable();
      context.disable();
      propagation.disable();
    },
  };
}
