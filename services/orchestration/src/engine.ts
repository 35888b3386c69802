/**
 * The run state machine: a fired trigger starts runs (conditions, re-entry, holdout, arbitration),
 * and runs advance through their program (waits on durable timers, quiet hours, caps, content,
 * sends and escalations). Every decision not to message is published as an ActionOutcome.
 */
import { actions, partitionOf, type triggers } from '@kairos/contracts';
import type { WorkflowContext, WorkflowSpec } from '@kairos/definitions';
import type { Logger } from '@kairos/messaging';
import { inject, injectable, TOKENS, type Clock } from '@kairos/service-kit';
import { activeTraceIds, captureTraceContext, counter, type StoredTraceContext } from '@kairos/telemetry';
import { arbitrate, type ArbitrationCandidate } from './domain/arbitration';
import { checkCaps, type FrequencyCap } from './domain/caps';
import {
  chooseContent,
  liquidScope,
  RenderError,
  renderSendContent,
  TemplateRenderer,
  type TemplateCatalog,
} from './domain/content';
import { profileView, recipientOf, snapshotOf, workflowContext } from './domain/context';
import { actionIdFor, digest, runIdFor } from './domain/hashing';
import { isHeldOut } from './domain/holdout';
import { programOf, resumePc, stepIdOf } from './domain/program';
import { customerZone, quietHoursEnd, waitDue } from './domain/timing';
import type { ActionEmitter } from './emitter';
import type { FaultHook } from './faults';
import type { CustomerLookup, ProfileGateway } from './profiles';
import { ORCH } from './tokens';
import { ACTIVE_STATES } from './store';
import type {
  RunDoc,
  RunEvent,
  RunStore,
  SendLedger,
  TimerDoc,
  TimerStore,
  WindowDoc,
  WindowStore,
} from './store';
import type { WorkflowRegistry } from './workflows';

export interface EngineSettings {
  partitions: number;
  /** Default arbitration settle window (ms); 0 disables arbitration for workflows without `settle`. */
  settleMs: number;
  globalCap?: FrequencyCap;
  /** Test only: kills the process at the armed fault point (crash tests). */
  fault: FaultHook;
}

const runsStarted = counter('kairos_orchestration_runs_total', 'Runs by how they ended up at entry', [
  'workflow',
  'entry',
]);

const escalationsFailed = counter(
  'kairos_orchestration_escalations_failed_total',
  'Escalations not requested (the run went on without them)',
  ['workflow', 'reason'],
);

/** Serializes work per customer inside the process (trigger handling and timers share a customer). */
class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

const DAY = 86_400_000;

/** The outcome an ended run published (again when a re-driven run finds it ended). */
const ENDING_OUTCOME: Partial<Record<RunDoc['state'], actions.OutcomeStatus>> = {
  failed: actions.OutcomeStatus.OUTCOME_STATUS_FAILED,
  suppressed: actions.OutcomeStatus.OUTCOME_STATUS_SUPPRESSED,
  held_out: actions.OutcomeStatus.OUTCOME_STATUS_HELD_OUT,
};

@injectable()
export class Orchestrator {
  private readonly renderer = new TemplateRenderer();
  private readonly mutex = new KeyedMutex();

  constructor(
    @inject(ORCH.Settings) private readonly settings: EngineSettings,
    @inject(TOKENS.Logger) private readonly logger: Logger,
    @inject(TOKENS.Clock) private readonly clock: Clock,
    @inject(ORCH.Runs) private readonly runs: RunStore,
    @inject(ORCH.Timers) private readonly timers: TimerStore,
    @inject(ORCH.Windows) private readonly windows: WindowStore,
    @inject(ORCH.Ledger) private readonly ledger: SendLedger,
    @inject(ORCH.Profiles) private readonly profiles: ProfileGateway,
    @inject(ORCH.Workflows) private readonly workflows: WorkflowRegistry,
    @inject(ORCH.Templates) private readonly templates: TemplateCatalog,
    @inject(ORCH.Emitter) private readonly emitter: ActionEmitter,
  ) {}

  /** How far back sends matter for caps. */
  private historyWindowMs(wf?: WorkflowSpec): number {
    return Math.max(this.settings.globalCap?.perMs ?? 0, wf?.frequencyCap?.perMs ?? 0, DAY);
  }

  private async lookup(customerId: string): Promise<CustomerLookup> {
    const since =
      this.clock.now() -
      Math.max(this.historyWindowMs(), ...this.workflows.all().map((w) => this.historyWindowMs(w)));
    const result = await this.profiles.lookup(customerId, since);
    if (result.fallbacks.length)
      this.logger.warn(
        { customerId, fallbacks: result.fallbacks },
        'ProfileService lookup failed; using the trigger snapshot and the local send ledger',
      );
    return result;
  }

  // ------------------------------------------------------------------------------------------
  // Entry

  /** Handles one TriggerFired: one run per matching workflow, idempotent under redelivery. */
  async onTriggerFired(tf: triggers.TriggerFired): Promise<void> {
    const wfs = this.workflows.forTrigger(tf.trigger);
    if (wfs.length === 0) return;
    if (!tf.customerId) throw new Error('TriggerFired without customer_id');
    // The TriggerFired's CONSUMER span: the run keeps it to publish under, whenever it acts.
    const trace = { traceId: activeTraceIds()?.trace_id, context: captureTraceContext() };
    await this.mutex.run(tf.customerId, async () => {
      let lookup: CustomerLookup | undefined;
      for (const wf of wfs) {
        const runId = runIdFor(tf.id, wf.name);
        const existing = await this.runs.get(runId);
        if (existing) {
          await this.resumeAfterCrash(existing);
          continue;
        }
        lookup ??= await this.lookup(tf.customerId);
        await this.startRun(tf, wf, runId, lookup, trace);
      }
    });
  }

  private async startRun(
    tf: triggers.TriggerFired,
    wf: WorkflowSpec,
    runId: string,
    lookup: CustomerLookup,
    trace: { traceId?: string; context?: StoredTraceContext },
  ): Promise<void> {
    const now = this.clock.now();
    const profile = profileView(lookup.profile ?? tf.profile, tf.customerId);
    const context = snapshotOf(tf);
    const program = programOf(wf);
    const run: RunDoc = {
      _id: runId,
      customerId: tf.customerId,
      partition: partitionOf(tf.customerId, this.settings.partitions),
      workflow: wf.name,
      workflowVersion: wf.version,
      trigger: tf.trigger,
      triggerFiredId: tf.id,
      priority: wf.priority,
      firedAt: tf.firedAt ?? new Date(now),
      transactional: wf.transactional,
      state: 'running',
      pc: 0,
      stepId: program[0] ? stepIdOf(program[0]) : '',
      context,
      profile,
      actions: [],
      history: [],
      createdAt: new Date(now),
      updatedAt: new Date(now),
    };
    if (trace.traceId) run.traceId = trace.traceId;
    if (trace.context) run.traceContext = trace.context;
    const ctx = workflowContext(context, profile);
    const entry = (state: RunDoc['state'], event: string, detail?: string): RunDoc => {
      const r: RunDoc = {
        ...run,
        state,
        history: [{ at: new Date(now), event, ...(detail ? { detail } : {}) }],
      };
      if (detail && state !== 'running' && state !== 'settling') r.reason = detail;
      return r;
    };

    if (wf.conditions) {
      const r = wf.conditions.evaluate(ctx);
      if (!r.ok || !r.value) {
        const why = r.ok ? 'conditions_not_met' : `conditions_error: ${r.error}`;
        if (await this.runs.insert(entry('skipped', 'skipped', why)))
          runsStarted.inc({ workflow: wf.name, entry: 'skipped' });
        return;
      }
    }
    if (isHeldOut(tf.customerId, wf.name, wf.holdoutPercent)) {
      if (await this.runs.insert(entry('held_out', 'held_out', 'holdout'))) {
        runsStarted.inc({ workflow: wf.name, entry: 'held_out' });
        await this.publishOutcome(run, actions.OutcomeStatus.OUTCOME_STATUS_HELD_OUT, 'holdout');
      }
      return;
    }
    // Re-entry: a customer is in at most one active run of a workflow.
    const active = await this.runs.activeHolder(tf.customerId, wf.name, runId);
    if (active) {
      const reason = `already_in_workflow:${active._id}`;
      if (await this.runs.insert(entry('suppressed', 'suppressed', reason))) {
        runsStarted.inc({ workflow: wf.name, entry: 'reentry' });
        await this.publishOutcome(run, actions.OutcomeStatus.OUTCOME_STATUS_SUPPRESSED, reason);
      }
      return;
    }
    const settleMs = wf.settleMs ?? this.settings.settleMs;
    if (settleMs > 0) {
      await this.runs.claimActive(tf.customerId, wf.name, runId);
      if (!(await this.runs.insert(entry('settling', 'entered')))) return;
      runsStarted.inc({ workflow: wf.name, entry: 'entered' });
      await this.joinWindow({ ...run, state: 'settling' }, settleMs);
      return;
    }
    // Written once, when the run stops (completes, waits or fails): a run that finishes at once
    // costs one write. A crash before it re-runs the steps on redelivery with the same action ids.
    runsStarted.inc({ workflow: wf.name, entry: 'entered' });
    await this.advance(entry('running', 'entered'), wf, lookup, false);
  }

  /**
   * A redelivered trigger (its handler never finished: it is acked only after) finds its run: it
   * finishes what a crash interrupted. A run that settles has its window and timer written before
   * the ack; a run that ended has its outcome published again (same message id).
   */
  private async resumeAfterCrash(run: RunDoc): Promise<void> {
    if (run.state === 'settling' && !run.windowId) {
      const wf = this.workflows.get(run.workflow);
      await this.joinWindow(run, wf?.settleMs ?? this.settings.settleMs);
    } else {
      await this.resumeInterrupted(run);
    }
  }

  // ------------------------------------------------------------------------------------------
  // Arbitration

  private async joinWindow(run: RunDoc, settleMs: number): Promise<void> {
    const now = this.clock.now();
    let window = await this.windows.join(run.customerId, run._id);
    while (!window) {
      const closesAt = new Date(now + settleMs);
      const fresh: WindowDoc = {
        _id: run.customerId,
        // Unique per attempt to open: a timer left by an attempt that did not open its window
        // (a crash, or another run opened one first) can never close a later window.
        windowId: `win_${digest('window', run.customerId, run._id, String(closesAt.getTime())).slice(0, 32)}`,
        state: 'open',
        closesAt,
        members: [run._id],
      };
      // The timer is written before the window: an open window always has the timer that closes
      // it. A timer whose window never opened finds no window and no run of its id: a no-op.
      await this.timers.schedule({
        _id: `settle:${fresh.windowId}`,
        kind: 'settle',
        partition: run.partition,
        customerId: run.customerId,
        dueAt: fresh.closesAt,
        windowId: fresh.windowId,
      });
      this.settings.fault('between-settle-timer-and-window');
      if (await this.windows.open(fresh)) window = fresh;
      else window = await this.windows.join(run.customerId, run._id);
    }
    await this.runs.update(
      run._id,
      { windowId: window.windowId },
      {
        at: new Date(now),
        event: 'settling',
        detail: `window ${window.windowId} until ${window.closesAt.toISOString()}`,
      },
    );
  }

  /**
   * Closes a window and arbitrates among its runs. The settle timer drives every member until each
   * is written past `settling`, and a winner until its steps are written (it is `resumedBy` this
   * timer): the timer is completed only after this returns, so a re-fired timer (a crash, a failure)
   * arbitrates again (the ranking is deterministic) and picks each run up where its last write left
   * it: a winner still `running` goes on, a loser's outcome is published again (same message id).
   */
  private async settleWindow(timer: TimerDoc & { windowId: string }): Promise<void> {
    const { customerId, windowId } = timer;
    const window = await this.windows.close(customerId, windowId);
    // A re-fired timer may find its window replaced by a newer one; its runs still carry its id.
    const members = window
      ? (await Promise.all(window.members.map((id) => this.runs.get(id)))).filter(
          (r): r is RunDoc => r !== null,
        )
      : await this.runs.inWindow(customerId, windowId);
    if (members.length === 0) return;
    const candidates: ArbitrationCandidate[] = members.map((r) => ({
      runId: r._id,
      workflow: r.workflow,
      priority: r.priority,
      firedAt: r.firedAt.getTime(),
      transactional: r.transactional,
    }));
    const result = arbitrate(candidates);
    const byId = new Map(members.map((r) => [r._id, r]));
    const now = new Date(this.clock.now());
    for (const { candidate, reason } of result.suppressed) {
      const run = byId.get(candidate.runId);
      if (!run) continue;
      if (run.state === 'settling') {
        await this.runs.update(
          run._id,
          { state: 'suppressed', reason, resumedBy: timer._id },
          { at: now, event: 'suppressed', detail: reason },
        );
        this.settings.fault('after-arbitration-loss');
      } else if (!(run.state === 'suppressed' && run.resumedBy === timer._id)) continue;
      await this.runs.releaseActive(run.customerId, run.workflow, run._id);
      await this.publishOutcome(run, actions.OutcomeStatus.OUTCOME_STATUS_SUPPRESSED, reason);
    }
    let lookup: CustomerLookup | undefined;
    for (const c of result.proceed) {
      const run = byId.get(c.runId);
      if (!run) continue;
      if (run.state !== 'settling') {
        // Re-fired: carry on with what this timer started.
        if (run.resumedBy === timer._id) await this.resumeInterrupted(run);
        continue;
      }
      const wf = this.workflows.get(run.workflow);
      if (!wf) {
        await this.failRun({ ...run, resumedBy: timer._id }, 'workflow_removed');
        continue;
      }
      const detail =
        c === result.winner ? `won among ${candidates.length}` : 'transactional: exempt from arbitration';
      await this.runs.update(
        run._id,
        { state: 'running', resumedBy: timer._id },
        { at: now, event: 'won', detail },
      );
      this.settings.fault('after-arbitration');
      lookup ??= await this.lookup(run.customerId);
      await this.advance({ ...run, state: 'running', resumedBy: timer._id }, wf, lookup);
    }
  }

  /**
   * A driver (redelivered trigger, re-fired timer) finds its run past the write it last made: a
   * `running` run goes on from its stored step; an ended run has the ending's follow-ups (re-entry
   * marker, outcome) done again, both idempotent.
   */
  private async resumeInterrupted(run: RunDoc): Promise<void> {
    if (run.state === 'running') return this.continueRun(run);
    if (ACTIVE_STATES.includes(run.state)) return;
    await this.runs.releaseActive(run.customerId, run.workflow, run._id);
    const status = ENDING_OUTCOME[run.state];
    if (status !== undefined && run.reason) await this.publishOutcome(run, status, run.reason);
  }

  // ------------------------------------------------------------------------------------------
  // Timers

  /** Fires one claimed timer. */
  async onTimer(timer: TimerDoc): Promise<void> {
    await this.mutex.run(timer.customerId, async () => {
      if (timer.kind === 'settle' && timer.windowId) {
        await this.settleWindow({ ...timer, windowId: timer.windowId });
        return;
      }
      if (!timer.runId) return;
      const run = await this.runs.get(timer.runId);
      if (!run) return;
      // A crash after resuming but before the run's next write leaves it 'running' (or ended without
      // its outcome) with this timer as the one that resumed it: the re-fired timer carries on.
      // Anything else is stale.
      if (run.resumedBy === timer._id) return this.resumeInterrupted(run);
      if (run.state !== 'waiting' || run.timerId !== timer._id) return;
      const resumed: RunDoc = {
        ...run,
        state: 'running',
        pc: timer.pc ?? run.pc,
        stepId: timer.stepId ?? run.stepId,
      };
      await this.runs.update(
        run._id,
        { state: 'running', pc: resumed.pc, stepId: resumed.stepId, resumedBy: timer._id },
        {
          at: new Date(this.clock.now()),
          event: 'resumed',
          step: resumed.stepId,
        },
        ['timerId', 'waitUntil'],
      );
      this.settings.fault('after-timer-resume');
      await this.continueRun(resumed);
    });
  }

  /**
   * A timer that kept failing is given up: the runs it drives fail with the error instead of
   * waiting forever (a step timer's run; a settle timer's runs still settling or that it resumed).
   */
  async abandonTimer(timer: TimerDoc, error: string): Promise<void> {
    const runs = timer.runId
      ? [await this.runs.get(timer.runId)]
      : timer.windowId
        ? await this.runs.inWindow(timer.customerId, timer.windowId)
        : [];
    for (const run of runs) {
      if (!run) continue;
      const driven = timer.runId
        ? run.state === 'waiting' || run.state === 'running'
        : run.state === 'settling' || (run.state === 'running' && run.resumedBy === timer._id);
      if (driven) await this.failRun({ ...run, resumedBy: timer._id }, `timer_failed: ${error}`);
    }
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
        if (run?.state === 'settling' && run.windowId) {
          const timerId = `settle:${run.windowId}`;
          if (await this.timers.exists(timerId)) return;
          await this.timers.schedule({
            _id: timerId,
            kind: 'settle',
            partition: run.partition,
            customerId: run.customerId,
            dueAt: new Date(this.clock.now()),
            windowId: run.windowId,
          });
        } else if (run?.state === 'running') {
          if (run.resumedBy && (await this.timers.exists(run.resumedBy))) return;
          await this.continueRun(run);
        } else return;
        recovered++;
        this.logger.warn(
          { runId: run._id, workflow: run.workflow, customerId: run.customerId, state: run.state },
          'run had no driver left; re-driven',
        );
      });
    }
    return recovered;
  }

  private async continueRun(run: RunDoc): Promise<void> {
    const wf = this.workflows.get(run.workflow);
    if (!wf) return this.failRun(run, 'workflow_removed');
    await this.advance(run, wf, await this.lookup(run.customerId));
  }

  // ------------------------------------------------------------------------------------------
  // Steps

  private async advance(
    run: RunDoc,
    wf: WorkflowSpec,
    lookup: CustomerLookup,
    persisted = true,
  ): Promise<void> {
    const program = programOf(wf);
    const start = resumePc(program, run.pc, run.stepId);
    if (start === undefined)
      return this.failRun(run, `step '${run.stepId}' no longer exists in workflow version ${wf.version}`);
    const profile = lookup.profile ? profileView(lookup.profile, run.customerId) : run.profile;
    const ctx = workflowContext(run.context, profile);
    const zone = customerZone(String(profile.timeZone ?? ''));
    let timingVariant = run.timingVariant;
    let pc = start;
    const at = () => new Date(this.clock.now());
    // Progress is written once, when the run stops (completes, waits, fails): one round trip per
    // advance. A crash before that re-runs the steps, and their actions keep their ids.
    const progress = { set: {} as Partial<RunDoc>, events: [] as RunEvent[], actions: [] as string[] };
    // Runs stored before this advance hold the re-entry marker; a new one takes it only if it waits.
    let markerHeld = persisted;
    const flush = async (set: Partial<RunDoc>, event?: RunEvent, unset: (keyof RunDoc)[] = []) => {
      const events = event ? [...progress.events, event] : progress.events;
      if (persisted) {
        await this.runs.update(run._id, { ...progress.set, ...set }, events, unset, progress.actions);
      } else {
        const doc: RunDoc = {
          ...run,
          ...progress.set,
          ...set,
          history: [...run.history, ...events],
          actions: [...run.actions, ...progress.actions],
          updatedAt: at(),
        };
        for (const k of unset) delete doc[k];
        if (ACTIVE_STATES.includes(doc.state)) {
          await this.runs.claimActive(run.customerId, run.workflow, run._id);
          markerHeld = true;
        }
        await this.runs.insert(doc);
        persisted = true;
      }
      progress.set = {};
      progress.events = [];
      progress.actions = [];
    };
    try {
      while (pc < program.length) {
        const ins = program[pc];
        if (ins.op === 'jump') {
          pc = ins.to;
          continue;
        }
        if (ins.op === 'branch') {
          pc = ins.step.when.test(ctx) ? pc + 1 : ins.elseAt;
          continue;
        }
        if (ins.op === 'exit') {
          await flush(
            { state: 'completed', reason: ins.step.reason ?? 'exit', pc, stepId: ins.step.id },
            {
              at: at(),
              event: 'completed',
              step: ins.step.id,
              detail: ins.step.reason ?? 'exit',
            },
          );
          if (markerHeld) await this.runs.releaseActive(run.customerId, run.workflow, run._id);
          return;
        }
        if (ins.op === 'wait') {
          const due = waitDue(ins.step, run._id, this.clock.now(), zone);
          if (due.variant) timingVariant = due.variant;
          if (due.dueAt > this.clock.now()) {
            await this.sleep(
              run,
              flush,
              pc + 1,
              program[pc + 1] ? stepIdOf(program[pc + 1]) : '',
              due.dueAt,
              ins.step.id,
              {
                ...(timingVariant ? { timingVariant } : {}),
              },
              due.variant ? `timing variant ${due.variant}` : undefined,
            );
            return;
          }
          if (timingVariant && timingVariant !== run.timingVariant) {
            progress.set.timingVariant = timingVariant;
            run = { ...run, timingVariant };
          }
          pc++;
          continue;
        }
        if (ins.op === 'escalate') {
          if (!ins.step.when || ins.step.when.test(ctx)) {
            const done = await this.escalate(run, wf, ins.step, ctx);
            progress.events.push(done);
            if (done.event === 'escalated') progress.actions.push(done.actionId!);
          }
          pc++;
          continue;
        }
        // send
        const step = ins.step;
        const actionId = actionIdFor(run._id, step.id);
        if (!wf.transactional && wf.quietHours) {
          const end = quietHoursEnd(this.clock.now(), wf.quietHours, zone);
          if (end !== undefined) {
            if (wf.quietHours.action === 'defer') {
              await this.sleep(run, flush, pc, step.id, end, step.id, {}, 'quiet_hours: deferred');
              return;
            }
            progress.events.push(await this.suppressStep(run, step.id, actionId, 'quiet_hours'));
            pc++;
            continue;
          }
        }
        if (!wf.transactional) {
          const nowMs = this.clock.now();
          const decision = checkCaps({
            nowMs,
            workflow: wf.name,
            actionId,
            transactional: false,
            ...(this.settings.globalCap ? { global: this.settings.globalCap } : {}),
            ...(wf.frequencyCap ? { perWorkflow: wf.frequencyCap } : {}),
            ...(lookup.history ? { history: lookup.history } : {}),
            ledger: await this.ledger.since(run.customerId, nowMs - this.historyWindowMs(wf)),
          });
          if (!decision.allowed) {
            progress.events.push(
              await this.suppressStep(run, step.id, actionId, 'frequency_cap', {
                cap_scope: decision.scope,
                cap: `${decision.count}/${decision.max}`,
              }),
            );
            pc++;
            continue;
          }
        }
        const choice = chooseContent(step, ctx);
        const content = await renderSendContent(step, choice, ctx, this.templates, this.renderer);
        const channels = step.channels === 'preferred' ? ['preferred'] : [...step.channels];
        const metadata: Record<string, string> = {
          preferred_channel: String(
            (profile.preferences as { preferredChannel?: string })?.preferredChannel ?? '',
          ),
          consent_marketing: String((profile.consent as { marketing?: boolean })?.marketing ?? false),
        };
        for (const [ch, cost] of Object.entries(wf.cost)) metadata[`cost_${ch}`] = String(cost);
        if (run.traceId) metadata.trace_id = run.traceId;
        const action = actions.ActionRequested.fromPartial({
          actionId,
          runId: run._id,
          workflow: wf.name,
          trigger: run.trigger,
          triggerId: run.triggerFiredId,
          customerId: run.customerId,
          step: step.id,
          channels,
          template: choice.template ?? '',
          contentVariant: choice.variant,
          timingVariant: timingVariant ?? '',
          content,
          recipient: recipientOf(profile),
          transactional: wf.transactional,
          escalation: false,
          requestedAt: at(),
          metadata,
        });
        // Transactional sends never count against marketing caps, so only marketing sends are kept.
        if (!wf.transactional)
          await this.ledger.record(
            run.customerId,
            actionId,
            { workflow: wf.name, channel: channels[0], at: at(), transactional: false },
            this.historyWindowMs(),
          );
        await this.emitter.request(action, run.traceContext);
        this.settings.fault('after-step-send');
        progress.set.contentVariant = choice.variant;
        progress.events.push({
          at: at(),
          event: 'sent',
          step: step.id,
          actionId,
          detail: `${channels.join('>')} ${choice.template ?? 'inline'}`,
        });
        progress.actions.push(actionId);
        pc++;
      }
      await flush({ state: 'completed', pc, stepId: '' }, { at: at(), event: 'completed' });
      if (markerHeld) await this.runs.releaseActive(run.customerId, run.workflow, run._id);
    } catch (err) {
      if (err instanceof RenderError) {
        await flush({ state: 'running' });
        await this.failRun(run, `render_error: ${err.message}`);
        return;
      }
      throw err;
    }
  }

  private async sleep(
    run: RunDoc,
    flush: (set: Partial<RunDoc>, event: RunEvent) => Promise<void>,
    resumeAt: number,
    resumeStepId: string,
    dueAt: number,
    stepId: string,
    set: Partial<RunDoc>,
    detail?: string,
  ): Promise<void> {
    const timerId = `step:${run._id}:${resumeAt}:${dueAt}`;
    await this.timers.schedule({
      _id: timerId,
      kind: 'step',
      partition: run.partition,
      customerId: run.customerId,
      dueAt: new Date(dueAt),
      runId: run._id,
      pc: resumeAt,
      stepId: resumeStepId,
    });
    const event: RunEvent = {
      at: new Date(this.clock.now()),
      event: 'waiting',
      step: stepId,
      detail: `until ${new Date(dueAt).toISOString()}${detail ? ` (${detail})` : ''}`,
    };
    await flush({ ...set, state: 'waiting', timerId, waitUntil: new Date(dueAt) }, event);
  }

  private async escalate(
    run: RunDoc,
    wf: WorkflowSpec,
    step: { id: string; to: { kind: 'webhook' | 'slack' | 'email'; target: string }; message: string },
    ctx: WorkflowContext,
  ): Promise<RunEvent> {
    const actionId = actionIdFor(run._id, step.id);
    let text: string;
    try {
      text = await this.renderer.render(step.message, liquidScope(ctx), `escalation message of ${step.id}`);
    } catch (err) {
      if (!(err instanceof RenderError)) throw err;
      // An escalation is a notice to staff, not the customer's message: its render error is
      // recorded and the run goes on (the customer's messages before it were sent).
      escalationsFailed.inc({ workflow: wf.name, reason: 'render_error' });
      this.logger.warn(
        { runId: run._id, workflow: wf.name, step: step.id, err: err.message },
        'escalation not sent: render error',
      );
      return {
        at: new Date(this.clock.now()),
        event: 'escalation_failed',
        step: step.id,
        actionId,
        detail: `render_error: ${err.message}`,
      };
    }
    const explanation = String(run.context.trigger.explanation ?? '');
    const action = actions.ActionRequested.fromPartial({
      actionId,
      runId: run._id,
      workflow: wf.name,
      trigger: run.trigger,
      triggerId: run.triggerFiredId,
      customerId: run.customerId,
      step: step.id,
      channels: [step.to.kind],
      template: '',
      contentVariant: 'escalation',
      timingVariant: run.timingVariant ?? '',
      content: {
        title: `Kairos: ${wf.name} needs attention`,
        subject: `Kairos: ${wf.name} needs attention`,
        text,
        body: explanation ? `${text}\n\nWhy: ${explanation}` : text,
        explanation,
        customer_id: run.customerId,
        workflow: wf.name,
        trigger: run.trigger,
        run_id: run._id,
      },
      recipient: { [step.to.kind]: step.to.target },
      transactional: wf.transactional,
      escalation: true,
      requestedAt: new Date(this.clock.now()),
      metadata: {
        escalation_target: `${step.to.kind}:${step.to.target}`,
        ...(run.traceId ? { trace_id: run.traceId } : {}),
      },
    });
    await this.emitter.request(action, run.traceContext);
    return {
      at: new Date(this.clock.now()),
      event: 'escalated',
      step: step.id,
      actionId,
      detail: `${step.to.kind}:${step.to.target}`,
    };
  }

  private async suppressStep(
    run: RunDoc,
    stepId: string,
    actionId: string,
    reason: string,
    metadata: Record<string, string> = {},
  ): Promise<RunEvent> {
    await this.publishOutcome(
      run,
      actions.OutcomeStatus.OUTCOME_STATUS_SUPPRESSED,
      reason,
      actionId,
      metadata,
    );
    return { at: new Date(this.clock.now()), event: 'suppressed', step: stepId, actionId, detail: reason };
  }

  private async failRun(run: RunDoc, error: string): Promise<void> {
    this.logger.error(
      { runId: run._id, workflow: run.workflow, customerId: run.customerId, err: error },
      'run failed',
    );
    // `resumedBy`: the driver that fails the run publishes the outcome again if killed before it.
    await this.runs.update(
      run._id,
      { state: 'failed', error, reason: error, ...(run.resumedBy ? { resumedBy: run.resumedBy } : {}) },
      { at: new Date(this.clock.now()), event: 'failed', detail: error },
    );
    this.settings.fault('after-run-failed');
    await this.runs.releaseActive(run.customerId, run.workflow, run._id);
    await this.publishOutcome(run, actions.OutcomeStatus.OUTCOME_STATUS_FAILED, error);
  }

  private async publishOutcome(
    run: RunDoc,
    status: actions.OutcomeStatus,
    reason: string,
    actionId = actionIdFor(run._id, 'run'),
    metadata: Record<string, string> = {},
  ): Promise<void> {
    await this.emitter.outcome(
      actions.ActionOutcome.fromPartial({
        actionId,
        runId: run._id,
        workflow: run.workflow,
        trigger: run.trigger,
        customerId: run.customerId,
        channel: '',
        status,
        reason,
        at: new Date(this.clock.now()),
        cost: 0,
        contentVariant: run.contentVariant ?? '',
        timingVariant: run.timingVariant ?? '',
        transactional: run.transactional,
        metadata: { ...metadata, ...(run.traceId ? { trace_id: run.traceId } : {}) },
      }),
      run.traceContext,
    );
  }
}
