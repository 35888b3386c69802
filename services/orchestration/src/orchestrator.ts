/**
 * The orchestrator: entry points of the run state machine. A fired trigger starts runs, a timer
 * resumes or arbitrates them, a given-up timer fails them, the sweep at start re-drives runs left
 * without a driver. Each reads what the machine decides with, asks it (src/machine: no I/O) and
 * has the executor do the decision. Work is serialized per customer inside the process.
 */
import type { triggers } from '@kairos/contracts';
import type { Logger } from '@kairos/messaging';
import { inject, injectable, TOKENS, type Clock } from '@kairos/service-kit';
import { activeTraceIds, captureTraceContext } from '@kairos/telemetry';
import type { TemplateCatalog } from './domain/content';
import { runIdFor } from './domain/hashing';
import { RunExecutor, type DriverScope } from './executor';
import type { FaultHook } from './faults';
import type { MachineSettings } from './machine/effects';
import { decideRedelivered } from './machine/entry';
import {
  decideAbandon,
  decideSettle,
  decideStepTimer,
  decideStranded,
  driverTimerOf,
} from './machine/lifecycle';
import type { EmitterPort, LedgerPort, RunPort, SendTimePort, TimerPort, WindowPort } from './ports';
import type { ProfileGateway } from './profiles';
import { KeyedMutex } from './keyed-mutex';
import type { RunDoc, TimerDoc } from './store/documents';
import { ORCH } from './tokens';
import type { WorkflowRegistry } from '@kairos/definitions';

export interface OrchestratorSettings extends MachineSettings {
  /** Test only: kills the process at the armed fault point (crash tests). */
  fault: FaultHook;
}

@injectable()
export class Orchestrator {
  private readonly mutex = new KeyedMutex();
  private readonly executor: RunExecutor;

  constructor(
    @inject(ORCH.Settings) private readonly settings: OrchestratorSettings,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(ORCH.Runs) private readonly runs: RunPort,
    @inject(ORCH.Timers) private readonly timers: TimerPort,
    @inject(ORCH.Windows) private readonly windows: WindowPort,
    @inject(ORCH.Ledger) ledger: LedgerPort,
    @inject(ORCH.Profiles) profiles: ProfileGateway,
    @inject(ORCH.Workflows) private readonly workflows: WorkflowRegistry,
    @inject(ORCH.Templates) templates: TemplateCatalog,
    @inject(ORCH.Emitter) emitter: EmitterPort,
    @inject(ORCH.SendTime) sendTime: SendTimePort,
  ) {
    const { fault, ...machine } = settings;
    this.executor = new RunExecutor({
      ports: { runs, timers, windows, ledger, emitter, profiles, sendTime },
      settings: machine,
      fault,
      clock,
      logger,
      workflows,
      templates,
    });
  }

  /** Handles one TriggerFired: one run per matching workflow, idempotent under redelivery. */
  async onTriggerFired(tf: triggers.TriggerFired): Promise<void> {
    const wfs = this.workflows.forTrigger(tf.trigger);
    if (wfs.length === 0) return;
    if (!tf.customerId) throw new Error('TriggerFired without customer_id');
    // The TriggerFired's CONSUMER span: the run keeps it to publish under, whenever it acts.
    const trace = { traceId: activeTraceIds()?.trace_id, context: captureTraceContext() };
    await this.mutex.run(tf.customerId, async () => {
      const scope: DriverScope = {};
      for (const wf of wfs) {
        const runId = runIdFor(tf.id, wf.name);
        const existing = await this.runs.get(runId);
        if (existing) {
          const effects = decideRedelivered(
            existing,
            this.workflows.get(existing.workflow),
            this.settings,
            this.clock.now(),
          );
          await this.executor.apply(effects, scope);
          continue;
        }
        await this.executor.enter(tf, wf, runId, trace, scope);
      }
    });
  }

  /** Fires one claimed timer. */
  async onTimer(timer: TimerDoc): Promise<void> {
    await this.mutex.run(timer.customerId, async () => {
      const scope: DriverScope = {};
      if (timer.kind === 'settle' && timer.windowId) {
        const members = await this.windowMembers(timer.customerId, timer.windowId);
        const effects = decideSettle(timer, members, (name) => this.workflows.get(name), this.clock.now());
        await this.executor.apply(effects, scope);
        return;
      }
      if (!timer.runId) return;
      const run = await this.runs.get(timer.runId);
      if (!run) return;
      await this.executor.apply(decideStepTimer(timer, run, this.clock.now()), scope);
    });
  }

  /**
   * Closes the window (no run can join after this) and reads its runs. A re-fired timer may find
   * its window replaced by a newer one; its runs still carry its id.
   */
  private async windowMembers(customerId: string, windowId: string): Promise<RunDoc[]> {
    const window = await this.windows.close(customerId, windowId);
    if (!window) return this.runs.inWindow(customerId, windowId);
    const found = await Promise.all(window.members.map((id) => this.runs.get(id)));
    return found.filter((r): r is RunDoc => r !== null);
  }

  /** A timer that kept failing is given up: the runs it drives fail (machine/lifecycle.ts). */
  async abandonTimer(timer: TimerDoc, error: string): Promise<void> {
    const runs = timer.runId
      ? [await this.runs.get(timer.runId)]
      : timer.windowId
        ? await this.runs.inWindow(timer.customerId, timer.windowId)
        : [];
    const found = runs.filter((r): r is RunDoc => r !== null);
    await this.executor.apply(decideAbandon(timer, found, error, this.clock.now()), {});
  }

  /**
   * At start: re-drives the runs of these partitions that have no driver left, as a version before
   * the crash invariant (docs/workflows.md) could leave them: `running` with no pending timer that
   * resumed it, or `settling` in a window whose settle timer is gone (a new timer, due now, settles
   * it). A run whose trigger is still unacked may be driven twice: serialized, and idempotent.
   * Returns how many runs it re-drove.
   */
  async recoverStranded(partitions: number[]): Promise<number> {
    let recovered = 0;
    for (const found of await this.runs.unfinished(partitions)) {
      await this.mutex.run(found.customerId, async () => {
        const run = await this.runs.get(found._id);
        if (!run) return;
        const driver = driverTimerOf(run);
        if (driver === null) return;
        if (driver !== undefined && (await this.timers.exists(driver))) return;
        await this.executor.apply(decideStranded(run, this.clock.now()), {});
        recovered++;
        this.logger.warn(
          { runId: run._id, workflow: run.workflow, customerId: run.customerId, state: run.state },
          'run had no driver left; re-driven',
        );
      });
    }
    return recovered;
  }

  /** Runs `fn` while none of the customer's triggers or timers is handled here (erasure). */
  exclusive<T>(customerId: string, fn: () => Promise<T>): Promise<T> {
    return this.mutex.run(customerId, fn);
  }
}
