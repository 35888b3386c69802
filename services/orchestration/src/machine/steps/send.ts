/**
 * `send`: a message to the customer. A marketing send is deferred or suppressed in quiet hours and
 * suppressed at a frequency cap (ProfileService history and the local ledger); otherwise its
 * content is chosen and rendered, the send is recorded in the ledger (marketing only) and an
 * ActionRequested is published. A render error fails the run.
 */
import { checkCaps, type SentRecord } from '../../domain/caps';
import { chooseContent, type ContentChoice } from '../../domain/content';
import { recipientOf } from '../../domain/context';
import { actionIdFor } from '../../domain/hashing';
import type { Instruction } from '../../domain/program';
import { quietHoursEnd } from '../../domain/timing';
import { flush, requestStepAction, sleep, type RunCursor } from '../cursor';
import { failRun, historyWindowMs, type RenderFailure, type StepDecision } from '../effects';
import { suppressStep } from './suppress';

type Send = Extract<Instruction, { op: 'send' }>;

export function decideSend(c: RunCursor, ins: Send, nowMs: number): StepDecision {
  const { wf } = c;
  const step = ins.step;
  const actionId = actionIdFor(c.run._id, step.id);
  if (!wf.transactional && wf.quietHours) {
    const end = quietHoursEnd(nowMs, wf.quietHours, c.zone);
    if (end !== undefined) {
      if (wf.quietHours.action === 'defer')
        return {
          effects: sleep(c, nowMs, {
            resumeAt: c.pc,
            resumeStepId: step.id,
            dueAt: end,
            stepId: step.id,
            detail: 'quiet_hours: deferred',
          }),
          stop: true,
        };
      return suppressStep(c, nowMs, step.id, actionId, 'quiet_hours');
    }
  }
  const render = (): StepDecision => {
    const choice = chooseContent(step, c.ctx);
    return {
      need: 'content',
      step,
      choice,
      resume: (content) => send(c, ins, nowMs, actionId, choice, content),
    };
  };
  if (wf.transactional) return render();
  return {
    need: 'ledger',
    sinceMs: nowMs - historyWindowMs(c.settings, wf),
    resume: (ledger: SentRecord[]) => {
      const caps = checkCaps({
        nowMs,
        workflow: wf.name,
        actionId,
        transactional: false,
        ...(c.settings.globalCap ? { global: c.settings.globalCap } : {}),
        ...(wf.frequencyCap ? { perWorkflow: wf.frequencyCap } : {}),
        ...(c.history ? { history: c.history } : {}),
        ledger,
      });
      if (!caps.allowed)
        return suppressStep(c, nowMs, step.id, actionId, 'frequency_cap', {
          cap_scope: caps.scope,
          cap: `${caps.count}/${caps.max}`,
        });
      return render();
    },
  };
}

/** The rendered content goes out: recorded (marketing only), requested, then the run goes on. */
function send(
  c: RunCursor,
  ins: Send,
  nowMs: number,
  actionId: string,
  choice: ContentChoice,
  content: Record<string, string> | RenderFailure,
): StepDecision {
  const { run, wf } = c;
  const step = ins.step;
  if ('renderError' in content) {
    // The progress so far is written with the run still `running`, then the run fails.
    return {
      effects: [
        ...flush(c, nowMs, { state: 'running' }),
        ...failRun(c.run, `render_error: ${content.renderError}`, nowMs),
      ],
      stop: true,
    };
  }
  const channels = step.channels === 'preferred' ? ['preferred'] : [...step.channels];
  const metadata: Record<string, string> = {
    preferred_channel: String(
      (c.profile.preferences as { preferredChannel?: string })?.preferredChannel ?? '',
    ),
    consent_marketing: String((c.profile.consent as { marketing?: boolean })?.marketing ?? false),
  };
  for (const [ch, cost] of Object.entries(wf.cost)) metadata[`cost_${ch}`] = String(cost);
  // Analytics splits outcomes by it (docs/analytics.md, timing impact).
  if (c.sendTimeOptimized) metadata.send_time_optimized = 'true';
  const at = new Date(nowMs);
  c.progress.set.contentVariant = choice.variant;
  const request = requestStepAction(
    c,
    step.id,
    actionId,
    {
      channels,
      template: choice.template ?? '',
      contentVariant: choice.variant,
      timingVariant: c.timingVariant ?? '',
      content,
      recipient: recipientOf(c.profile),
      transactional: wf.transactional,
      escalation: false,
      requestedAt: at,
      metadata,
    },
    { at, event: 'sent', detail: `${channels.join('>')} ${choice.template ?? 'inline'}` },
  );
  c.pc++;
  return {
    effects: [
      // Transactional sends never count against marketing caps, so only marketing sends are kept.
      ...(wf.transactional
        ? []
        : [
            {
              do: 'record-send' as const,
              customerId: run.customerId,
              actionId,
              entry: { workflow: wf.name, channel: channels[0], at, transactional: false },
              retainMs: historyWindowMs(c.settings),
            },
          ]),
      request,
      { do: 'crash-point', point: 'after-step-send' },
    ],
    stop: false,
  };
}
