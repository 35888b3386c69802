/**
 * Does what the run machine (src/machine) decides: applies its effects in order through the ports,
 * gathers the facts a step asks for (ledger reads, template renders) and drives a run's steps until
 * one stops it. The only place besides the orchestrator's reads where a run's I/O happens.
 */
import type { triggers } from '@kairos/contracts';
import type { WorkflowSpec } from '@kairos/definitions';
import type { Logger } from '@kairos/messaging';
import type { Clock } from '@kairos/service-kit';
import { counter, type StoredTraceContext } from '@kairos/telemetry';
import {
  liquidScope,
  RenderError,
  renderSendContent,
  TemplateRenderer,
  type TemplateCatalog,
} from './domain/content';
import type { FaultHook } from './faults';
import { decideStep } from './machine/advance';
import { startCursor, type RunCursor } from './machine/cursor';
import type { Effect, MachineSettings, Need, RenderFailure, StepDecision } from './machine/effects';
import { historyWindowMs } from './machine/effects';
import { decideEntry } from './machine/entry';
import { decideContinue, openingWindow } from './machine/lifecycle';
import type { EmitterPort, LedgerPort, RunPort, SendTimePort, TimerPort, WindowPort } from './ports';
import type { CustomerLookup, ProfileGateway } from './profiles';
import type { RunDoc } from './store/documents';

const runsStarted = counter('kairos_orchestration_runs_total', 'Runs by how they ended up at entry', [
  'workflow',
  'entry',
]);

const escalationsFailed = counter(
  'kairos_orchestration_escalations_failed_total',
  'Escalations not requested (the run went on without them)',
  ['workflow', 'reason'],
);

export interface ExecutorPorts {
  runs: RunPort;
  timers: TimerPort;
  windows: WindowPort;
  ledger: LedgerPort;
  emitter: EmitterPort;
  profiles: ProfileGateway;
  sendTime: SendTimePort;
}

export interface ExecutorDeps {
  ports: ExecutorPorts;
  settings: MachineSettings;
  /** Test only: kills the process at the armed fault point (crash tests). */
  fault: FaultHook;
  clock: Clock;
  logger: Logger;
  workflows: { get(name: string): WorkflowSpec | undefined; all(): WorkflowSpec[] };
  templates: TemplateCatalog;
}

/** What one driver (a trigger, a timer) of a customer looked up, shared by the runs it drives. */
export interface DriverScope {
  lookup?: CustomerLookup;
}

export class RunExecutor {
  private readonly renderer = new TemplateRenderer();

  constructor(private readonly deps: ExecutorDeps) {}

  private now(): number {
    return this.deps.clock.now();
  }

  /** Applies effects in order: each is done (awaited) before the next. */
  async apply(effects: readonly Effect[], scope: DriverScope): Promise<void> {
    for (const effect of effects) await this.applyOne(effect, scope);
  }

  private async applyOne(e: Effect, scope: DriverScope): Promise<void> {
    const { runs, timers, ledger, emitter } = this.deps.ports;
    switch (e.do) {
      case 'insert-run':
        if ((await runs.insert(e.run)) && e.ifNew) await this.apply(e.ifNew, scope);
        return;
      case 'update-run':
        return runs.update(e.runId, e.set, e.events, e.unset ?? [], e.actions ?? []);
      case 'claim-active':
        await runs.claimActive(e.run.customerId, e.run.workflow, e.run._id);
        return;
      case 'release-active':
        return runs.releaseActive(e.run.customerId, e.run.workflow, e.run._id);
      case 'schedule-timer':
        return timers.schedule(e.timer);
      case 'record-send':
        return ledger.record(e.customerId, e.actionId, e.entry, e.retainMs);
      case 'request-action':
        return emitter.request(e.action, e.trace);
      case 'publish-outcome':
        return emitter.outcome(e.outcome, e.trace);
      case 'join-window':
        return this.joinWindow(e.run, e.settleMs, scope);
      case 'advance':
        return this.advance(e.run, e.wf, e.persisted, scope);
      case 'continue-run':
        return this.apply(decideContinue(e.run, this.deps.workflows.get(e.run.workflow), this.now()), scope);
      case 'crash-point':
        return this.deps.fault(e.point);
      case 'count-run':
        runsStarted.inc({ workflow: e.workflow, entry: e.entry });
        return;
      case 'count-escalation-failed':
        escalationsFailed.inc({ workflow: e.workflow, reason: e.reason });
        return;
      case 'log':
        this.deps.logger[e.level](e.fields, e.message);
        return;
    }
  }

  /** A new run of `wf` for the fired trigger (see machine/entry.ts). */
  async enter(
    tf: triggers.TriggerFired,
    wf: WorkflowSpec,
    runId: string,
    trace: { traceId?: string; context?: StoredTraceContext },
    scope: DriverScope,
  ): Promise<void> {
    const lookup = (scope.lookup ??= await this.lookup(tf.customerId));
    let decision = decideEntry(tf, wf, runId, { nowMs: this.now(), lookup, trace }, this.deps.settings);
    if ('need' in decision)
      decision = decision.resume(
        (await this.deps.ports.runs.activeHolder(tf.customerId, wf.name, runId)) ?? null,
      );
    if ('effects' in decision) await this.apply(decision.effects, scope);
  }

  /** Runs the run's steps from its position, a decision at a time, until one stops it. */
  private async advance(
    run: RunDoc,
    wf: WorkflowSpec,
    persisted: boolean,
    scope: DriverScope,
  ): Promise<void> {
    const lookup = (scope.lookup ??= await this.lookup(run.customerId));
    const cursor = startCursor(run, wf, lookup, persisted, this.deps.settings, this.now());
    if ('effects' in cursor) return this.apply(cursor.effects, scope);
    for (;;) {
      let decision = decideStep(cursor, this.now());
      while ('need' in decision) decision = await this.resolve(decision, cursor);
      await this.apply(decision.effects, scope);
      if (decision.stop) return;
    }
  }

  /** Gathers the fact a decision needs (a read, a render) and goes on deciding with it. */
  private async resolve(need: Need, c: RunCursor): Promise<StepDecision> {
    switch (need.need) {
      case 'ledger':
        return need.resume(await this.deps.ports.ledger.since(c.run.customerId, need.sinceMs));
      case 'content':
        return need.resume(
          await rendered(() =>
            renderSendContent(need.step, need.choice, c.ctx, this.deps.templates, this.renderer),
          ),
        );
      case 'best-hour':
        return need.resume(
          await this.deps.ports.sendTime
            .bestHour(c.run.customerId)
            .catch((err: unknown) => ({ unavailable: (err as Error).message })),
        );
      case 'escalation-text':
        return need.resume(
          await rendered(() =>
            this.renderer.render(
              need.step.message,
              liquidScope(c.ctx),
              `escalation message of ${need.step.id}`,
            ),
          ),
        );
    }
  }

  /**
   * Adds the settling run to the customer's open window, or opens one. The settle timer is written
   * before the window: an open window always has the timer that closes it. A timer whose window
   * never opened finds no window and no run of its id: a no-op.
   */
  private async joinWindow(run: RunDoc, settleMs: number, scope: DriverScope): Promise<void> {
    const { windows } = this.deps.ports;
    const now = this.now();
    let window = await windows.join(run.customerId, run._id);
    while (!window) {
      const opening = openingWindow(run, settleMs, now);
      await this.apply(
        [
          { do: 'schedule-timer', timer: opening.timer },
          { do: 'crash-point', point: 'between-settle-timer-and-window' },
        ],
        scope,
      );
      window = (await windows.open(opening.window))
        ? opening.window
        : await windows.join(run.customerId, run._id);
    }
    const detail = `window ${window.windowId} until ${window.closesAt.toISOString()}`;
    await this.apply(
      [
        {
          do: 'update-run',
          runId: run._id,
          set: { windowId: window.windowId },
          events: [{ at: new Date(now), event: 'settling', detail }],
        },
      ],
      scope,
    );
  }

  /** The customer's profile and recent sends, as far back as any cap looks. */
  private async lookup(customerId: string): Promise<CustomerLookup> {
    const { settings, workflows } = this.deps;
    const since =
      this.now() -
      Math.max(historyWindowMs(settings), ...workflows.all().map((w) => historyWindowMs(settings, w)));
    const result = await this.deps.ports.profiles.lookup(customerId, since);
    if (result.fallbacks.length)
      this.deps.logger.warn(
        { customerId, fallbacks: result.fallbacks },
        'ProfileService lookup failed; using the trigger snapshot and the local send ledger',
      );
    return result;
  }
}

/** A render as a fact: its text, or the RenderError's message (any other error is thrown). */
async function rendered<T>(render: () => Promise<T>): Promise<T | RenderFailure> {
  try {
    return await render();
  } catch (err) {
    if (err instanceof RenderError) return { renderError: err.message };
    throw err;
  }
}
