import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

describe('the telemetry preload', () => {
  it('records spans with valid trace ids even when no OTLP endpoint is configured (logs and headers need them)', () => {
    const env = { ...process.env };
    for (const key of Object.keys(env)) if (key.startsWith('OTEL_')) delete env[key];
    const out = execFileSync(
      process.execPath,
      [
        '--require',
        join(__dirname, '..', '..', 'src', 'register.js'),
        '-e',
        `const { trace } = require(${JSON.stringify(require.resolve('@opentelemetry/api'))});
         const span = trace.getTracer('t').startSpan('s');
         process.stdout.write(JSON.stringify({ valid: trace.isSpanContextValid(span.spanContext()), recording: span.isRecording() }));`,
      ],
      { env, encoding: 'utf8' },
    );
    assert.deepEqual(JSON.parse(out), { valid: true, recording: true });
  });
});
