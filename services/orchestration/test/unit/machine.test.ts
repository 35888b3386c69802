import * as assert from 'node:assert/strict';
import { actions, triggers } from '@kairos/contracts';
import { parseDefinitions, type WorkflowSpec } from '@kairos/definitions';
import { actionIdFor, runIdFor } from '../../src/domain/hashing';
import { decideStep } from '../../src/machine/advance';
import { startCursor, type RunCursor } from '../../src/machine/cursor';
import type { Effect, MachineSettings, Need, StepDecision } from '../../src/machine/effects';
import { decideEntry, type EntryDecision, type EntryFacts } from '../../src/machine/entry';
import { decideSettle, decideStepTimer } from '../../src/machine/lifecycle';
import type { RunDoc, TimerDoc } from '../../src/store/documents';

/**
 * The run state machine without MongoDB or NATS: run + instruction + facts → effects, read as data.
 * The order of effects is the order of durable writes, so it is what crash safety rests on.
 */
const NOW = Date.parse('2026-03-02T23:00:00Z');
const SETTINGS: MachineSettings = { partitions: 16, settleMs: 0 };
const TRACE = { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
const { OutcomeStatus } = actions;

function workflow(spec: string): WorkflowSpec {
  const { documents, errors } = parseDefinitions(
    `apiVersion: kairos/v1
kind: Workflow
metadata: { name: w }
spec:
  trigger: t
${spec}`,
    'w.yaml',
    { unknownTriggers: 'allow' },
  );
  assert.deepEqual(errors, []);
  const wf = documents.find((d) => d.kind === 'Workflow');
  assert.ok(wf && wf.kind === 'Workflow');
  return wf.workflow;
}

const tf = triggers.TriggerFired.fromPartial({
  id: 'tf_1',
  trigger: 't',
  customerId: 'c1',
  firedAt: new Date(NOW - 1000),
  priority: 50,
  matched: [
    {
      step: 's',
      alias: 'add',
      eventId: 'e1',
      type: 'cart.item_added',
      occurredAt: new Date(NOW),
      properties: {},
    },
  ],
  bindings: { add: {} },
});

const entryFacts = (): EntryFacts => ({
  nowMs: NOW,
  lookup: { fallbacks: [] },
  trace: { traceId: 'trace-1', context: TRACE },
});

/** Decides the entry of a run of `wf`, answering who else holds the workflow with `holder`. */
function enter(wf: WorkflowSpec, runId: string, holder: RunDoc | null = null): EntryDecision {
  const d = decideEntry(tf, wf, runId, entryFacts(), SETTINGS);
  return 'need' in d ? d.resume(holder) : d;
}

/** The entered run of `wf`, as the machine writes it before its first step. */
function enteredRun(wf: WorkflowSpec): RunDoc {
  const d = enter(wf, runIdFor(tf.id, wf.name));
  assert.ok('effects' in d);
  const advance = d.effects.find((e) => e.do === 'advance');
  assert.ok(advance?.do === 'advance');
  return advance.run;
}

/** Drives the machine to a stop, answering its needs with `answer`; returns every effect in order. */
function runToStop(c: RunCursor, answer: (need: Need) => unknown): { effects: Effect[]; needs: Need[] } {
  const effects: Effect[] = [];
  const needs: Need[] = [];
  for (let guard = 0; guard < 100; guard++) {
    let d = decideStep(c, NOW);
    while ('need' in d) {
      needs.push(d);
      d = (d.resume as (fact: unknown) => StepDecision)(answer(d));
    }
    effects.push(...d.effects);
    if (d.stop) return { effects, needs };
  }
  assert.fail('the run never stopped');
}

function cursorOf(wf: WorkflowSpec, run = enteredRun(wf), persisted = false): RunCursor {
  const c = startCursor(run, wf, { fallbacks: [] }, persisted, SETTINGS, NOW);
  assert.ok(!('effects' in c));
  return c;
}

const kinds = (effects: Effect[]) => effects.map((e) => (e.do === 'crash-point' ? `crash:${e.point}` : e.do));

/** The effect at `index`, asserted to be a `kind` effect (and typed as one). */
function effectAt<K extends Effect['do']>(
  effects: Effect[],
  index: number,
  kind: K,
): Extract<Effect, { do: K }> {
  const effect = effects[index];
  assert.equal(effect.do, kind, `effect ${index}`);
  return effect as Extract<Effect, { do: K }>;
}

describe('run machine: entry', () => {
  it('records a skipped run (no outcome) when the conditions do not hold', () => {
    const wf = workflow(`  conditions: "profile.consent.marketing == true"
  steps:
    - send: { channel: email, subject: hi, body: there }`);
    const d = decideEntry(tf, wf, 'run_1', entryFacts(), SETTINGS);
    assert.ok('effects' in d);
    assert.equal(d.effects.length, 1);
    const [insert] = d.effects;
    assert.ok(insert.do === 'insert-run');
    assert.equal(insert.run.state, 'skipped');
    assert.equal(insert.run.reason, 'conditions_not_met');
    assert.deepEqual(kinds(insert.ifNew ?? []), ['count-run']);
  });

  it('publishes HELD_OUT under the trigger trace only when the held-out run is new', () => {
    const wf = workflow(`  holdout: 100%
  steps:
    - send: { channel: email, subject: hi, body: there }`);
    const d = decideEntry(tf, wf, 'run_1', entryFacts(), SETTINGS);
    assert.ok('effects' in d);
    const [insert] = d.effects;
    assert.ok(insert.do === 'insert-run' && insert.run.state === 'held_out');
    const published = insert.ifNew?.find((e) => e.do === 'publish-outcome');
    assert.ok(published?.do === 'publish-outcome');
    assert.equal(published.outcome.status, OutcomeStatus.OUTCOME_STATUS_HELD_OUT);
    assert.equal(published.outcome.actionId, actionIdFor('run_1', 'run'));
    assert.deepEqual(published.trace, TRACE);
  });

  it('asks who holds the workflow, then suppresses a re-entry naming the active run', () => {
    const wf = workflow(`  steps:
    - send: { channel: email, subject: hi, body: there }`);
    assert.equal(
      Object.getOwnPropertyDescriptor(decideEntry(tf, wf, 'run_2', entryFacts(), SETTINGS), 'need')?.value,
      'active-holder',
    );
    const d = enter(wf, 'run_2', { _id: 'run_1' } as RunDoc);
    assert.ok('effects' in d);
    const [insert] = d.effects;
    assert.ok(insert.do === 'insert-run');
    assert.equal(insert.run.state, 'suppressed');
    assert.equal(insert.run.reason, 'already_in_workflow:run_1');
    assert.deepEqual(kinds(insert.ifNew ?? []), ['count-run', 'publish-outcome']);
  });

  it('settles: the re-entry marker is taken before the settling run is written, then it joins a window', () => {
    const wf = workflow(`  settle: 2s
  steps:
    - send: { channel: email, subject: hi, body: there }`);
    const d = enter(wf, 'run_1');
    assert.ok('effects' in d);
    assert.deepEqual(kinds(d.effects), ['claim-active', 'insert-run']);
    const insert = d.effects[1];
    assert.ok(insert.do === 'insert-run' && insert.run.state === 'settling');
    const join = insert.ifNew?.find((e) => e.do === 'join-window');
    assert.ok(join?.do === 'join-window');
    assert.equal(join.settleMs, 2000);
  });

  it('runs the steps at once without a settle window, before the run is written', () => {
    const wf = workflow(`  steps:
    - send: { channel: email, subject: hi, body: there }`);
    const d = enter(wf, 'run_1');
    assert.ok('effects' in d);
    assert.deepEqual(kinds(d.effects), ['count-run', 'advance']);
    const advance = d.effects[1];
    assert.ok(advance.do === 'advance');
    assert.equal(advance.persisted, false);
    assert.equal(advance.run.traceId, 'trace-1');
    assert.deepEqual(advance.run.traceContext, TRACE);
  });
});

describe('run machine: steps', () => {
  it('sends: ledger, then content; record, request under the run trace, crash point; then completes', () => {
    const wf = workflow(`  steps:
    - send: { channel: email, subject: 'hi {{ add.id }}', body: there }`);
    const c = cursorOf(wf);
    const { effects, needs } = runToStop(c, (need) =>
      need.need === 'ledger' ? [] : { subject: 'hi', body: 'there' },
    );
    assert.deepEqual(
      needs.map((n) => n.need),
      ['ledger', 'content'],
    );
    // A new run that completes at once is written once, and never takes the re-entry marker.
    assert.deepEqual(kinds(effects), [
      'record-send',
      'request-action',
      'crash:after-step-send',
      'insert-run',
    ]);
    const request = effectAt(effects, 1, 'request-action');
    assert.equal(request.action.actionId, actionIdFor(c.run._id, wf.steps[0].id));
    assert.deepEqual(request.trace, TRACE);
    const insert = effectAt(effects, 3, 'insert-run');
    assert.equal(insert.run.state, 'completed');
    assert.deepEqual(insert.run.actions, [request.action.actionId]);
    assert.deepEqual(
      insert.run.history.map((h) => h.event),
      ['entered', 'sent', 'completed'],
    );
  });

  it('suppresses a marketing send at its frequency cap with the cap in the outcome, and goes on', () => {
    const wf = workflow(`  frequencyCap: { max: 1, per: 24h }
  steps:
    - send: { channel: email, subject: hi, body: there }`);
    const c = cursorOf(wf);
    const before = { actionId: 'act_old', workflow: 'w', at: NOW - 3_600_000, transactional: false };
    const { effects, needs } = runToStop(c, () => [before]);
    assert.deepEqual(
      needs.map((n) => [n.need, 'sinceMs' in n ? n.sinceMs : undefined]),
      [['ledger', NOW - 86_400_000]],
    );
    assert.deepEqual(kinds(effects), ['publish-outcome', 'insert-run']);
    const published = effectAt(effects, 0, 'publish-outcome');
    assert.equal(published.outcome.status, OutcomeStatus.OUTCOME_STATUS_SUPPRESSED);
    assert.equal(published.outcome.reason, 'frequency_cap');
    assert.deepEqual(published.outcome.metadata, { cap_scope: 'workflow', cap: '1/1', trace_id: 'trace-1' });
    assert.deepEqual(published.trace, TRACE);
  });

  it('defers a send in quiet hours on a step timer written before the waiting run', () => {
    const wf = workflow(`  quietHours: { from: '22:00', to: '08:00', action: defer }
  steps:
    - send: { channel: email, subject: hi, body: there }`);
    const c = cursorOf(wf);
    const { effects, needs } = runToStop(c, () => assert.fail('no fact is needed'));
    assert.deepEqual(needs, []);
    assert.deepEqual(kinds(effects), ['schedule-timer', 'claim-active', 'insert-run']);
    const timer = effects[0];
    const insert = effects[2];
    assert.ok(timer.do === 'schedule-timer' && insert.do === 'insert-run');
    const due = Date.parse('2026-03-03T08:00:00Z');
    assert.equal(timer.timer._id, `step:${c.run._id}:0:${due}`);
    assert.equal(insert.run.state, 'waiting');
    assert.equal(insert.run.timerId, timer.timer._id);
  });

  describe('wait until best_time', () => {
    const bestTime = (wait: string) =>
      workflow(`  steps:
    - wait: ${wait}
    - send: { channel: email, subject: hi, body: there }`);

    /** Drives the run; prediction answers `best` for the best hour, and the send needs nothing. */
    function drive(wf: WorkflowSpec, best: unknown) {
      const c = cursorOf(wf);
      return runToStop(c, (need) =>
        need.need === 'best-hour' ? best : need.need === 'ledger' ? [] : { subject: 'hi', body: 'there' },
      );
    }

    it("asks prediction for the customer's best hour and sleeps until its next occurrence (UTC)", () => {
      const { effects, needs } = drive(bestTime('{ until: best_time }'), { bestHour: 9, evidence: 4.5 });
      assert.deepEqual(
        needs.map((n) => n.need),
        ['best-hour'],
      );
      assert.deepEqual(kinds(effects), ['schedule-timer', 'claim-active', 'insert-run']);
      const timer = effects[0];
      const insert = effects[2];
      assert.ok(timer.do === 'schedule-timer' && insert.do === 'insert-run');
      assert.equal(timer.timer.dueAt.getTime(), Date.parse('2026-03-03T09:00:00Z'));
      assert.equal(insert.run.state, 'waiting');
      assert.match(insert.run.history.at(-1)?.detail ?? '', /best hour 09:00 UTC \(evidence 4\.5\)/);
    });

    it('marks the sends after a best-time wait as send-time optimized, and only those', () => {
      const metadataOf = (effects: ReturnType<typeof drive>['effects']) => {
        const request = effects.find((e) => e.do === 'request-action');
        assert.ok(request?.do === 'request-action');
        return request.action.metadata;
      };
      const optimized = drive(bestTime('{ until: best_time }'), { bestHour: 23, evidence: 1 });
      assert.equal(metadataOf(optimized.effects).send_time_optimized, 'true');
      const insert = optimized.effects.find((e) => e.do === 'insert-run');
      assert.ok(insert?.do === 'insert-run');
      assert.equal(insert.run.sendTimeOptimized, true, 'kept on the run for sends after a restart');
      const plain = drive(bestTime('{ until: best_time }'), { unavailable: 'prediction: down' });
      assert.equal(metadataOf(plain.effects).send_time_optimized, undefined);
    });

    it('waits no longer than max', () => {
      const { effects } = drive(bestTime('{ until: best_time, max: 2h }'), { bestHour: 9, evidence: 0 });
      const timer = effects[0];
      assert.ok(timer.do === 'schedule-timer');
      assert.equal(timer.timer.dueAt.getTime(), NOW + 2 * 3_600_000);
    });

    it('goes on at once when the best hour is now', () => {
      const { effects } = drive(bestTime('{ until: best_time }'), { bestHour: 23, evidence: 1 });
      assert.deepEqual(kinds(effects), [
        'record-send',
        'request-action',
        'crash:after-step-send',
        'insert-run',
      ]);
    });

    it('does not wait, and says why, when prediction is unavailable', () => {
      const { effects } = drive(bestTime('{ until: best_time }'), {
        unavailable: 'prediction: deadline exceeded',
      });
      assert.deepEqual(kinds(effects), [
        'log',
        'record-send',
        'request-action',
        'crash:after-step-send',
        'insert-run',
      ]);
      const log = effects[0];
      assert.ok(log.do === 'log');
      assert.equal(log.message, 'best send time unavailable; not waiting');
      assert.equal(log.fields.err, 'prediction: deadline exceeded');
    });
  });

  it('fails the run on a render error: progress written running, then failed, crash point, marker, outcome', () => {
    const wf = workflow(`  steps:
    - send: { channel: email, subject: hi, body: there }`);
    const { effects } = runToStop(cursorOf(wf), (need) =>
      need.need === 'ledger' ? [] : { renderError: 'no such variable' },
    );
    assert.deepEqual(kinds(effects), [
      'claim-active',
      'insert-run',
      'log',
      'update-run',
      'crash:after-run-failed',
      'release-active',
      'publish-outcome',
    ]);
    const failed = effectAt(effects, 3, 'update-run');
    assert.equal(failed.set.state, 'failed');
    assert.equal(failed.set.error, 'render_error: no such variable');
    const published = effectAt(effects, 6, 'publish-outcome');
    assert.equal(published.outcome.status, OutcomeStatus.OUTCOME_STATUS_FAILED);
    assert.deepEqual(published.trace, TRACE);
  });

  it('goes on after an escalation whose message does not render, recording why', () => {
    const wf = workflow(`  transactional: true
  steps:
    - escalate: { to: { slack: '#oncall' }, message: '{{ nope }}' }`);
    const { effects } = runToStop(cursorOf(wf), () => ({ renderError: 'undefined variable' }));
    assert.deepEqual(kinds(effects), ['count-escalation-failed', 'log', 'insert-run']);
    const insert = effectAt(effects, 2, 'insert-run');
    assert.deepEqual(
      insert.run.history.map((h) => h.event),
      ['entered', 'escalation_failed', 'completed'],
    );
  });
});

describe('run machine: timers', () => {
  const wf = workflow(`  steps:
    - wait: { duration: 1h }
    - send: { channel: email, subject: hi, body: there }`);
  const timer: TimerDoc = {
    _id: 'step:run_1:1:123',
    kind: 'step',
    partition: 0,
    customerId: 'c1',
    dueAt: new Date(NOW),
    runId: 'run_1',
    pc: 1,
    stepId: wf.steps[1].id,
    leaseUntil: new Date(NOW),
    attempts: 1,
  };
  const waiting = { ...enteredRun(wf), _id: 'run_1', state: 'waiting', timerId: timer._id } as RunDoc;

  it('resumes its waiting run: written running and resumedBy it, crash point, then the run goes on', () => {
    const effects = decideStepTimer(timer, waiting, NOW);
    assert.deepEqual(kinds(effects), ['update-run', 'crash:after-timer-resume', 'continue-run']);
    const update = effectAt(effects, 0, 'update-run');
    assert.deepEqual(update.set, { state: 'running', pc: 1, stepId: timer.stepId, resumedBy: timer._id });
    assert.deepEqual(update.unset, ['timerId', 'waitUntil']);
  });

  it('re-fired after a crash, carries on the run it resumed; another timer is stale', () => {
    const resumed = { ...waiting, state: 'running', resumedBy: timer._id } as RunDoc;
    assert.deepEqual(kinds(decideStepTimer(timer, resumed, NOW)), ['continue-run']);
    assert.deepEqual(decideStepTimer({ ...timer, _id: 'step:other' }, waiting, NOW), []);
  });

  it('settles a window: the loser is written suppressed before its outcome, the winner running before its steps', () => {
    const settle = { ...timer, _id: 'settle:win_1', kind: 'settle' as const, windowId: 'win_1' };
    const low = { ...waiting, _id: 'run_low', state: 'settling', priority: 10, windowId: 'win_1' } as RunDoc;
    const high = {
      ...waiting,
      _id: 'run_high',
      state: 'settling',
      priority: 90,
      windowId: 'win_1',
    } as RunDoc;
    const effects = decideSettle(settle, [low, high], () => wf, NOW);
    assert.deepEqual(kinds(effects), [
      'update-run',
      'crash:after-arbitration-loss',
      'release-active',
      'publish-outcome',
      'update-run',
      'crash:after-arbitration',
      'advance',
    ]);
    const lost = effects[0];
    const won = effects[4];
    assert.ok(lost.do === 'update-run' && won.do === 'update-run');
    assert.equal(lost.runId, 'run_low');
    assert.deepEqual(lost.set, { state: 'suppressed', reason: lost.set.reason, resumedBy: settle._id });
    assert.equal(won.runId, 'run_high');
    assert.deepEqual(won.set, { state: 'running', resumedBy: settle._id });
  });
});
