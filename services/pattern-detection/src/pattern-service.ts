import { status } from '@grpc/grpc-js';
import { identifierProblem, quoteInput, type triggers } from '@kairos/contracts';
import type { NatsConnection } from '@kairos/messaging';
import type { Explanation } from '@kairos/patterns';
import {
  inject,
  injectable,
  partitionOwner,
  RpcError,
  TOKENS,
  unaryHandler,
  type Clock,
  type Logger,
  type PartitionRuntime,
} from '@kairos/service-kit';
import type { PartitionDetector } from './partition-detector';
import { DraftTriggerError, parseDraftTrigger, readStoredEvents, simulate } from './simulator';
import { PD_TOKENS } from './tokens';

export const PATTERN_SERVICE_NAME = 'kairos.triggers.v1.PatternService';

/** What the gRPC service needs from the running detectors. */
export type DetectionRuntime = PartitionRuntime<PartitionDetector>;

export interface PatternServiceSettings {
  simulateMaxEvents: number;
  /** Default look-back of a stored-event simulation without `from`. */
  defaultSimulateRangeMs: number;
}

const iso = (t: number) => new Date(t).toISOString();

/** Explanation → step states: matched / waiting (per partial match) and failed (last condition failures). */
export function explanationSteps(ex: Explanation): triggers.StepStatus[] {
  const steps: triggers.StepStatus[] = [];
  const many = ex.partialMatches.length > 1;
  ex.partialMatches.forEach((pm, k) => {
    const prefix = many ? `match ${k + 1}: ` : '';
    for (const m of pm.matchedSoFar) {
      steps.push({
        step: m.path,
        state: 'matched',
        detail: `${prefix}${m.type} ${m.event?.id ?? ''} at ${iso(m.event?.time ?? m.time)}`.trim(),
      });
    }
    for (const w of pm.waitingFor) {
      const what =
        w.kind === 'absent'
          ? `no ${w.type} until ${iso(w.deadline ?? 0)}`
          : w.kind === 'count'
            ? `${w.counted ?? 0}/${w.atLeast ?? 0} ${w.type}`
            : `${w.type}${w.condition ? ` where ${w.condition}` : ''}`;
      const expiry = pm.expiresAfter !== undefined ? ` (window ends ${iso(pm.expiresAfter)})` : '';
      steps.push({ step: w.path, state: 'waiting', detail: `${prefix}${what}${expiry}` });
    }
  });
  for (const f of ex.conditionFailures) {
    steps.push({
      step: f.path,
      state: 'failed',
      detail: `'${f.condition}' was ${f.error ? `an error (${f.error})` : 'false'} for event ${f.eventId} at ${iso(f.eventTime)}`,
    });
  }
  return steps;
}

/** The gRPC PatternService: Simulate (draft triggers, publishes nothing) and Explain (live engine state). */
@injectable()
export class PatternServiceImpl {
  constructor(
    @inject(PD_TOKENS.Runtime) private readonly runtime: DetectionRuntime,
    @inject(PD_TOKENS.Settings) private readonly settings: PatternServiceSettings,
    @inject(TOKENS.Nats) private readonly nc: NatsConnection,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(TOKENS.Logger) private readonly logger: Logger,
  ) {}

  async simulate(req: triggers.SimulateRequest): Promise<triggers.SimulateResponse> {
    let trigger;
    try {
      trigger = parseDraftTrigger(req.definitionYaml);
    } catch (err) {
      if (err instanceof DraftTriggerError)
        throw new RpcError(status.INVALID_ARGUMENT, `definition_yaml: ${err.message}`);
      throw err;
    }
    const now = this.clock.now();
    const toMs = req.to ? req.to.getTime() : now;
    const fromMs = req.from ? req.from.getTime() : toMs - this.settings.defaultSimulateRangeMs;
    if (fromMs > toMs) throw new RpcError(status.INVALID_ARGUMENT, 'from must not be after to');
    for (let i = 0; i < req.customerIds.length; i++) {
      const problem = identifierProblem(`customer_ids[${i}]`, req.customerIds[i]);
      if (problem) throw new RpcError(status.INVALID_ARGUMENT, problem);
    }
    let input = req.events;
    if (input.length === 0) {
      const read = await readStoredEvents(this.nc, {
        fromMs,
        toMs,
        customers: req.customerIds,
        partitions: this.runtime.partitions,
        maxEvents: this.settings.simulateMaxEvents,
      });
      if (read.truncated) {
        throw new RpcError(
          status.RESOURCE_EXHAUSTED,
          `more than ${this.settings.simulateMaxEvents} stored events in range; narrow from/to or customer_ids`,
        );
      }
      input = read.events;
    }
    const customers = req.customerIds.length ? new Set(req.customerIds) : undefined;
    const result = simulate(trigger, input, { untilMs: toMs, customers });
    return { fired: result.fired, eventsScanned: result.eventsScanned, customers: result.customers };
  }

  async explain(req: triggers.ExplainRequest): Promise<triggers.ExplainResponse> {
    if (!req.trigger) throw new RpcError(status.INVALID_ARGUMENT, 'trigger is required');
    if (!req.customerId) throw new RpcError(status.INVALID_ARGUMENT, 'customer_id is required');
    const problem =
      identifierProblem('trigger', req.trigger) ?? identifierProblem('customer_id', req.customerId);
    if (problem) throw new RpcError(status.INVALID_ARGUMENT, problem);
    const { worker: detector } = partitionOwner(this.runtime, req.customerId);
    const ex = await detector.explain(req.trigger, req.customerId);
    if (ex.status === 'unknown-trigger')
      throw new RpcError(status.NOT_FOUND, `trigger ${quoteInput(req.trigger)} is not loaded`);
    return {
      summary: ex.summary,
      steps: explanationSteps(ex),
      lastFiredAt: ex.lastFiredAt !== undefined ? new Date(ex.lastFiredAt) : undefined,
      cooldownUntil: ex.cooldownUntil !== undefined ? new Date(ex.cooldownUntil) : undefined,
    };
  }

  handlers(): triggers.PatternServiceServer {
    return {
      simulate: unaryHandler('Simulate', (r: triggers.SimulateRequest) => this.simulate(r), this.logger),
      explain: unaryHandler('Explain', (r: triggers.ExplainRequest) => this.explain(r), this.logger),
    };
  }
}
