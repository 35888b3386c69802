import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KairosClient } from '@kairos/client';
import { createPopulation, runLoad, type RunLoadResult } from '@kairos/loadgen';
import { connectNats, silentLogger, type NatsConnection } from '@kairos/messaging';
import { infraPids, startSmtpSink, waitFor, type SmtpSink } from '@kairos/testkit';
import { Mesh } from '../src/mesh';
import {
  auditRun,
  type AcceptedEvent,
  type AuditResult,
  type ReceivedEmail,
  type Window,
} from '../src/chaos/audit';
import { meshBacklog } from '../src/chaos/backlog';
import { CHAOS_DEFINITIONS, CHAOS_TRIGGERS } from '../src/chaos/definitions';
import { FaultInjector, type Outage } from '../src/chaos/inject';
import { PeakMemory } from '../src/chaos/memory';
import {
  DEFAULT_ACK_WAIT_MS,
  describeFault,
  planFaults,
  PROFILES,
  type ChaosProfile,
} from '../src/chaos/plan';

/** Started in this order: enrichment serves profiles to orchestration. */
const SERVICES = [
  'enrichment',
  'ingest',
  'pattern-detection',
  'prediction',
  'orchestration',
  'delivery',
  'analytics',
];

/** Orchestration's timer lease (KAIROS_TIMER_LEASE): a killed process's claimed timers wait it out. */
const TIMER_LEASE_MS = 30_000;

/**
 * The spans in which part of the mesh could not make progress: each outage, and after a kill of
 * orchestration the timer lease, for the timers the killed process had claimed are fired again
 * only when their lease ends (their owner is a per-process id, so a restart cannot tell it is dead).
 */
function recoveryWindows(outages: Outage[]): Window[] {
  return outages.map((o) => ({
    startedAt: o.startedAt,
    endedAt: o.endedAt + (o.killed.includes('orchestration') ? TIMER_LEASE_MS : 0),
  }));
}

function chosenProfile(): ChaosProfile {
  const name = process.env.KAIROS_CHAOS_PROFILE ?? 'long';
  if (name !== 'short' && name !== 'long') {
    throw new Error(`KAIROS_CHAOS_PROFILE: expected short or long, got '${name}'`);
  }
  return PROFILES[name];
}

function chosenSeed(): number {
  const raw = process.env.KAIROS_CHAOS_SEED;
  if (raw === undefined || raw === '') return Math.floor(Math.random() * 2 ** 31);
  const seed = Number(raw);
  if (!Number.isInteger(seed) || seed < 0)
    throw new Error(`KAIROS_CHAOS_SEED: expected a whole number, got '${raw}'`);
  return seed;
}

describe('chaos: the mesh under load and compound faults loses nothing and doubles nothing', function () {
  const profile = chosenProfile();
  const seed = chosenSeed();
  this.timeout(20 * 60_000);
  const mesh = new Mesh();
  const accepted: AcceptedEvent[] = [];
  const emails: ReceivedEmail[] = [];
  let smtp: SmtpSink;
  let nc: NatsConnection;
  const log = (line: string) => console.log(`    ${line}`);

  before(async () => {
    log(
      `chaos seed ${seed}, profile ${profile.name} (replay: KAIROS_CHAOS_SEED=${seed} KAIROS_CHAOS_PROFILE=${profile.name} pnpm test:chaos)`,
    );
    await mesh.startInfrastructure();
    smtp = await startSmtpSink((mail) => {
      const actionId = /<([^@>]+)@kairos>/.exec(mail.headers['message-id'] ?? '')?.[1] ?? '';
      emails.push({ actionId, to: mail.to[0] ?? '', receivedAt: Date.now() });
    });
    const defsDir = mkdtempSync(join(tmpdir(), 'kairos-chaos-defs-'));
    writeFileSync(join(defsDir, 'chaos.yaml'), CHAOS_DEFINITIONS);
    const env: Record<string, string> = {
      KAIROS_DEFINITIONS_DIR: defsDir,
      KAIROS_DEFINITIONS_WATCH: 'false',
      KAIROS_SMTP_URL: smtp.url,
      KAIROS_DELIVERY_ACK_WAIT: `${profile.deliveryAckWaitMs}ms`,
      // A relay that de-duplicates on Message-ID (the sink's records are read that way): a send cut
      // by kill -9 is resent with the same Message-ID instead of ending UNKNOWN.
      KAIROS_DELIVERY_GUARANTEES: 'email=at-least-once',
      LOG_LEVEL: 'warn',
      // Spans are not collected here: the receiver would hold every span of the run in this process.
      OTEL_EXPORTER_OTLP_ENDPOINT: '',
    };
    const enrichment = await mesh.startService('enrichment', { ...env });
    env.KAIROS_PROFILE_ADDR = `127.0.0.1:${enrichment.grpcPort}`;
    for (const name of SERVICES.slice(1)) await mesh.startService(name, env);
    nc = await connectNats({ servers: mesh.nats.url, name: 'chaos', logger: silentLogger });
  });

  after(async () => {
    // Every service's last lines, for the failure at hand (LOG_LEVEL=warn keeps them few).
    const logDir = mkdtempSync(join(tmpdir(), `kairos-chaos-${seed}-`));
    for (const [name, s] of mesh.services)
      writeFileSync(join(logDir, `${name}.log`), [...s.earlierLogs, ...s.process.logs()].join('\n'));
    writeFileSync(join(logDir, 'nats-server.log'), mesh.nats?.logs().join('\n') ?? '');
    log(`service logs: ${logDir}`);
    await nc?.close();
    await mesh.stop();
    await smtp?.close();
  });

  it('counts zero lost events, double firings, double messages and unsent due messages; lateness within the outage', async () => {
    const plan = planFaults(seed, profile, SERVICES);
    log(`plan: ${plan.map((p) => `+${p.gapMs} ms ${describeFault(p.fault)}`).join('; ')}`);
    const memory = new PeakMemory(() => [
      ...[...mesh.services].map(([name, s]) => ({ name, pid: s.process.pid })),
      ...infraPids([mesh.nats.port, Number(new URL(mesh.mongo.url).port)]).map(([name, pid]) => ({
        name,
        pid,
      })),
    ]);
    memory.start();
    const client = new KairosClient({
      address: `127.0.0.1:${mesh.services.get('ingest')!.grpcPort}`,
      // Long enough to ride out an ingest restart or a NATS restart without dropping events.
      maxRetries: 30,
    });
    const stopLoad = new AbortController();
    // From the burst on, every message waits behind the burst's backlog: lateness then measures capacity.
    let inBurst = false;
    const track = (population: ReturnType<typeof createPopulation>, rate: number, signal: AbortSignal) =>
      runLoad({
        client,
        population,
        rate,
        durationMs: 60 * 60_000,
        signal,
        onAccepted: (e, r) => {
          if (r.outcome === 'accepted') {
            accepted.push({
              id: e.id,
              type: e.type,
              customerId: e.customerId,
              acceptedAt: Date.now(),
              burst: inBurst,
            });
          }
        },
      });
    const population = createPopulation({ seed, customers: profile.customers, scenarios: 0 });
    const load = track(population, profile.rate, stopLoad.signal);

    const injector = new FaultInjector(mesh, log);
    await injector.run(plan);
    let burst: RunLoadResult | undefined;
    if (profile.burstFactor > 1) {
      log(`burst: ${profile.burstFactor}× the rate for ${profile.burstMs / 1000} s`);
      inBurst = true;
      const burstPopulation = createPopulation({
        seed,
        customers: profile.customers,
        scenarios: 0,
        runId: 'burst',
      });
      const stopBurst = AbortSignal.timeout(profile.burstMs);
      burst = await track(burstPopulation, profile.rate * (profile.burstFactor - 1), stopBurst);
    }
    await new Promise((resolve) => setTimeout(resolve, profile.tailMs));
    stopLoad.abort();
    const result = await load;
    await client.flush();
    await client.close();
    await injector.restartCrashed();
    log(
      `load: ${result.sent} sent, ${result.accepted} accepted, ${result.rejected} rejected` +
        `${result.firstError ? ` (first: ${result.firstError})` : ''}` +
        (burst ? `; burst: ${burst.sent} sent, ${burst.accepted} accepted, ${burst.rejected} rejected` : ''),
    );

    // Drained: every consumer caught up, then every due message arrived (or the deadline says what is missing).
    await waitFor(async () => (await meshBacklog(nc)).total === 0, {
      timeoutMs: 300_000,
      intervalMs: 1_000,
      message: 'the mesh to drain',
    }).catch(async (err: Error) => {
      const { behind } = await meshBacklog(nc).catch(() => ({ behind: ['(unknown)'] }));
      throw new Error(`seed ${seed}: ${err.message}; furthest behind: ${behind.join(', ')}`);
    });
    let audit: AuditResult | undefined;
    const complete = (a: AuditResult) =>
      a.counts.eventsLost + a.counts.triggersNotFired + a.counts.dueNotSent === 0;
    await waitFor(
      async () => {
        audit = await auditRun({
          nc,
          accepted,
          emails,
          triggers: CHAOS_TRIGGERS,
          outages: recoveryWindows(injector.outages),
        });
        return complete(audit);
      },
      { timeoutMs: 120_000, intervalMs: 2_000, message: 'every due message' },
    ).catch(() => undefined);
    memory.stop();

    const longestOutageMs = Math.max(0, ...injector.outages.map((o) => o.endedAt - o.startedAt));
    const { counts, firstDivergent } = audit!;
    log('outages: ' + injector.outages.map((o) => `${o.fault} ${o.endedAt - o.startedAt} ms`).join('; '));
    log(`counts (seed ${seed}):`);
    for (const [k, v] of Object.entries(counts)) log(`  ${k.padEnd(24)} ${v}`);
    log(`  ${'longestOutageMs'.padEnd(24)} ${longestOutageMs}`);
    log(
      `  ${'crashes'.padEnd(24)} ${injector.crashes.length}${injector.crashes.length ? ` (${injector.crashes.join(', ')})` : ''}`,
    );
    log(
      'peak RSS (MiB): ' +
        memory
          .report()
          .map(([n, mb]) => `${n} ${mb}`)
          .join(', '),
    );

    const failure = firstDivergent
      ? `seed ${seed}: first divergent customer ${firstDivergent.customerId}:\n      ${firstDivergent.problems.join('\n      ')}`
      : `seed ${seed}`;
    assert.ok(counts.accepted > 0, `seed ${seed}: no event was accepted`);
    assert.deepEqual(
      {
        eventsLost: counts.eventsLost,
        triggersNotFired: counts.triggersNotFired,
        triggersFiredTwice: counts.triggersFiredTwice,
        customersMessagedTwice: counts.customersMessagedTwice,
        dueNotSent: counts.dueNotSent,
        deadLetters: counts.deadLetters,
        crashes: injector.crashes.length,
      },
      {
        eventsLost: 0,
        triggersNotFired: 0,
        triggersFiredTwice: 0,
        customersMessagedTwice: 0,
        dueNotSent: 0,
        deadLetters: 0,
        crashes: 0,
      },
      failure,
    );
    // Late by the outages it waited through (with the timer lease after an orchestration kill), and
    // beyond them by at most one ack wait: JetStream redelivers what a paused process held only when
    // that runs out (a killed one's loops resume at their first unacked message at once); the
    // backlog's catch-up fits in it at this load.
    assert.ok(
      counts.maxLatenessBeyondOutagesMs <= DEFAULT_ACK_WAIT_MS,
      `${failure}: a message was ${counts.maxLatenessBeyondOutagesMs} ms late beyond the outages it overlapped ` +
        `(bound: the ${DEFAULT_ACK_WAIT_MS} ms ack wait)`,
    );
  });
});
