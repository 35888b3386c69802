/**
 * `escalate`: a notice to staff (webhook, Slack, email), when its `when` holds. Its render error is
 * recorded and the run goes on: it is not the customer's message, and the messages before it were
 * sent.
 */
import { actionIdFor } from '../../domain/hashing';
import type { Instruction } from '../../domain/program';
import { requestStepAction, type RunCursor } from '../cursor';
import type { Effect, RenderFailure, StepDecision } from '../effects';

type Escalate = Extract<Instruction, { op: 'escalate' }>;

export function decideEscalate(c: RunCursor, ins: Escalate, nowMs: number): StepDecision {
  const { step } = ins;
  if (step.when && !step.when.test(c.ctx)) {
    c.pc++;
    return { effects: [], stop: false };
  }
  return { need: 'escalation-text', step, resume: (text) => escalate(c, ins, nowMs, text) };
}

function escalate(c: RunCursor, ins: Escalate, nowMs: number, text: string | RenderFailure): StepDecision {
  const { step } = ins;
  const { run, wf } = c;
  const at = new Date(nowMs);
  const actionId = actionIdFor(run._id, step.id);
  const effects: Effect[] = [];
  if (typeof text !== 'string') {
    const err = text.renderError;
    effects.push(
      { do: 'count-escalation-failed', workflow: wf.name, reason: 'render_error' },
      {
        do: 'log',
        level: 'warn',
        fields: { runId: run._id, workflow: wf.name, step: step.id, err },
        message: 'escalation not sent: render error',
      },
    );
    c.progress.events.push({
      at,
      event: 'escalation_failed',
      step: step.id,
      actionId,
      detail: `render_error: ${err}`,
    });
  } else {
    const explanation = String(run.context.trigger.explanation ?? '');
    const target = `${step.to.kind}:${step.to.target}`;
    const request = requestStepAction(
      c,
      step.id,
      actionId,
      {
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
        requestedAt: at,
        metadata: { escalation_target: target },
      },
      { at, event: 'escalated', detail: target },
    );
    effects.push(request);
  }
  c.pc++;
  return { effects, stop: false };
}
