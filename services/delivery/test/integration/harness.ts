import path from 'node:path';
import { jetstream } from '@nats-io/jetstream';
import { actions, SCHEMAS, subjects } from '@kairos/contracts';
import type { NatsConnection, Publisher } from '@kairos/messaging';
import { freePort, startServiceProcess, type ServiceProcess } from '@kairos/testkit';
import { TELEMETRY_PRELOAD } from '@kairos/telemetry';

export const SCRIPT = path.resolve(__dirname, '../../src/main.js');

export interface DeliveryProcess {
  proc: ServiceProcess;
  httpUrl: string;
  env: Record<string, string>;
}

/** Starts the compiled delivery service as a child process and waits for gRPC health SERVING. */
export async function startDelivery(
  env: Record<string, string>,
  httpPort?: number,
): Promise<DeliveryProcess> {
  const grpcPort = await freePort();
  const port = httpPort ?? (await freePort());
  const full = {
    KAIROS_GRPC_PORT: String(grpcPort),
    KAIROS_HTTP_PORT: String(port),
    KAIROS_TRACKING_BASE_URL: `http://127.0.0.1:${port}`,
    KAIROS_DELIVERY_BACKOFF: '200ms,300ms,300ms,300ms',
    KAIROS_DELIVERY_ACK_WAIT: '4s',
    LOG_LEVEL: 'info',
    ...env,
  };
  const proc = await startServiceProcess({
    name: 'delivery',
    script: SCRIPT,
    env: full,
    requireTelemetry: TELEMETRY_PRELOAD,
    readiness: { grpcPort },
    readyTimeoutMs: 60_000,
  });
  return { proc, httpUrl: `http://127.0.0.1:${port}`, env: full };
}

let seq = 0;
/** A unique action with sensible defaults (marketing consent given, email address set). */
export function action(partial: Partial<actions.ActionRequested> = {}): actions.ActionRequested {
  seq += 1;
  const id = `act-${process.pid}-${Date.now().toString(36)}-${seq}`;
  return actions.ActionRequested.fromPartial({
    actionId: id,
    runId: `run-${id}`,
    workflow: 'welcome',
    trigger: 'signed-up',
    customerId: `cust-${seq}`,
    step: 'steps[0]',
    channels: ['email'],
    contentVariant: 'A',
    timingVariant: 'fast',
    content: {
      subject: 'Hello',
      html: '<html><body><p>Hi <a href="https://shop.example/offer?x=1&amp;y=2">offer</a></p></body></html>',
      text: 'Hi',
    },
    recipient: { email: `${id}@example.test` },
    metadata: {
      consent_marketing: 'true',
      trace_id: 'feedfacefeedfacefeedfacefeedface',
      cost_email: '0.001',
    },
    ...partial,
  });
}

export async function request(publisher: Publisher, a: actions.ActionRequested): Promise<void> {
  const channel = (a.channels[0] ?? 'email').replace('_', '-');
  await publisher.publish(subjects.actionRequested(channel), SCHEMAS.ActionRequested, a, {
    msgId: `req:${a.actionId}`,
  });
}

/** Every ActionOutcome stored in the ACTIONS stream (read with an ordered consumer). */
export async function storedOutcomes(nc: NatsConnection): Promise<actions.ActionOutcome[]> {
  const js = jetstream(nc);
  const consumer = await js.consumers.get('ACTIONS', { filter_subjects: ['actions.outcome.>'] });
  const out: actions.ActionOutcome[] = [];
  for (;;) {
    const m = await consumer.next({ expires: 1_000 });
    if (!m) break;
    out.push(SCHEMAS.ActionOutcome.type.decode(m.data));
    if (m.info.pending === 0) break;
  }
  return out;
}

export async function outcomesFor(nc: NatsConnection, actionId: string): Promise<actions.ActionOutcome[]> {
  return (await storedOutcomes(nc)).filter((o) => o.actionId === actionId);
}

export const S = actions.OutcomeStatus;
