/** The kairos/v1 definition schema, written once as data (see schema-dsl.ts). */
import type { Definitions, ObjectSchema, Property, Schema } from './schema-dsl';
import { toJsonSchema } from './schema-dsl';
import { DEFINITION_LIMITS } from './limits';

export const API_VERSION = 'kairos/v1';
export const KINDS = ['Trigger', 'Workflow'] as const;
export type DefinitionKind = (typeof KINDS)[number];
export const CHANNELS = ['email', 'sms', 'push', 'in_app', 'webhook', 'slack'] as const;
export type Channel = (typeof CHANNELS)[number];

const req = (schema: Schema): Property => ({ schema, required: true });
const opt = (schema: Schema): Property => ({ schema });
const str = (description?: string): Schema => ({ kind: 'string', minLength: 1, description });
const duration = (description?: string): Schema => ({ kind: 'string', format: 'duration', description });
const cel = (description?: string): Schema => ({ kind: 'string', format: 'cel', description });
const template = (description?: string): Schema => ({ kind: 'string', format: 'template', description });
const timeOfDay = (description?: string): Schema => ({ kind: 'string', format: 'timeOfDay', description });
const eventType = (description?: string): Schema => ({ kind: 'string', format: 'eventType', description });
const alias = (): Schema => ({
  kind: 'string',
  format: 'alias',
  description: 'Binds the matched event to this name for later conditions and the workflow',
});
const priority = (): Schema => ({
  kind: 'number',
  integer: true,
  minimum: 0,
  maximum: 100,
  default: 50,
  description: 'Higher wins arbitration (0-100, default 50)',
});
const channel = (): Schema => ({ kind: 'string', enum: CHANNELS });
const obj = (properties: Record<string, Property>, description?: string): ObjectSchema => ({
  kind: 'object',
  properties,
  description,
});

const patternRef: Schema = { kind: 'ref', ref: 'pattern' };
const patternList: Schema = {
  kind: 'array',
  items: patternRef,
  minItems: 1,
  maxItems: DEFINITION_LIMITS.maxPatternItems,
};
const stepsRef: Schema = { kind: 'ref', ref: 'steps' };

const absentInner = obj(
  { event: req(eventType('Event type that must NOT occur')), where: opt(cel('CEL condition on the event')) },
  'The event that must not follow',
);

const pattern: Schema = {
  kind: 'oneKey',
  expected: 'a pattern with one of: event, all, any, sequence, absent, count',
  description: 'A trigger pattern',
  variants: {
    event: obj(
      {
        event: req(eventType('Event type to match')),
        where: opt(cel('CEL condition over event, profile and aliases bound by earlier steps')),
        as: opt(alias()),
      },
      'One event',
    ),
    all: obj(
      { all: req(patternList), within: opt(duration('Window from the first match')) },
      'Every sub-pattern, in any order',
    ),
    any: obj({ any: req(patternList) }, 'Whichever sub-pattern completes first'),
    sequence: obj(
      { sequence: req(patternList), within: opt(duration('Window from the first step')) },
      'Sub-patterns in order (skip-till-next-match)',
    ),
    absent: obj(
      {
        absent: req(absentInner),
        for: req(duration('How long the event must not occur after the previous step')),
      },
      '"Not followed by": only inside a sequence, after at least one step',
    ),
    count: obj(
      {
        count: req(
          obj({
            event: req(eventType('Event type to count')),
            where: opt(cel('CEL condition on each counted event')),
            atLeast: req({
              kind: 'number',
              integer: true,
              minimum: 1,
              maximum: DEFINITION_LIMITS.maxCountAtLeast,
            }),
            within: req(duration('Sliding window')),
          }),
        ),
        as: opt(alias()),
      },
      'At least N matching events within a sliding window',
    ),
  },
};

const triggerSpec = obj({
  description: opt(str('What the trigger detects')),
  priority: opt(priority()),
  cooldown: opt(duration('Per customer: no re-firing for this long after a firing (default none)')),
  category: opt(str('Free-form category, e.g. system, marketing')),
  pattern: req(patternRef),
});

const waitVariant = obj({
  name: req(str('Variant name (reported by analytics)')),
  duration: req(duration()),
  weight: opt({ kind: 'number', minimum: 0, description: 'Relative weight (default 1)' }),
});

const step: Schema = {
  kind: 'union',
  expected: 'a step with one of: wait, branch, send, escalate, exit',
  options: [
    { kind: 'string', enum: ['exit'] },
    {
      kind: 'oneKey',
      expected: 'a step with one of: wait, branch, send, escalate, exit',
      variants: {
        wait: obj({
          wait: req({
            kind: 'oneKey',
            expected: 'a wait with one of: duration, until, variants',
            variants: {
              duration: obj({ duration: req(duration('How long to wait')) }),
              until: obj({
                until: req({
                  kind: 'string',
                  format: 'waitUntil',
                  description:
                    "Next occurrence of this time in the customer's time zone, or best_time: the customer's best hour to be reached",
                }),
                max: opt(duration('With until: best_time, the longest wait (default 24h)')),
              }),
              variants: obj({ variants: req({ kind: 'array', items: waitVariant, minItems: 1 }) }),
            },
          }),
        }),
        branch: obj({
          branch: req(
            obj({
              when: req(cel('CEL condition')),
              then: req(stepsRef),
              else: opt(stepsRef),
            }),
          ),
        }),
        send: obj({
          send: req(
            obj({
              channel: req({
                kind: 'union',
                expected:
                  "a channel (email, sms, push, in_app, webhook, slack), 'preferred', or a list of channels",
                options: [
                  { kind: 'string', enum: [...CHANNELS, 'preferred'] },
                  { kind: 'array', items: channel(), minItems: 1 },
                ],
                description:
                  "One channel, an ordered fallback list, or 'preferred' (the customer's preference)",
              }),
              template: opt(str('Template id')),
              variants: opt({
                kind: 'array',
                minItems: 1,
                items: obj({ when: req(cel('CEL condition')), template: req(str('Template id')) }),
                description: 'Content variants: the first whose condition holds replaces the template',
              }),
              subject: opt(template('Inline Liquid subject')),
              body: opt(template('Inline Liquid body')),
            }),
          ),
        }),
        escalate: obj({
          escalate: req(
            obj({
              when: opt(cel('CEL condition')),
              to: req({
                kind: 'oneKey',
                expected: 'a recipient with one of: webhook, slack, email',
                variants: {
                  webhook: obj({ webhook: req(str('Webhook name or URL')) }),
                  slack: obj({ slack: req(str('Slack channel')) }),
                  email: obj({ email: req(str('E-mail address of the owner')) }),
                },
              }),
              message: req(template('Liquid template')),
            }),
          ),
        }),
        exit: obj({
          exit: req({
            kind: 'union',
            expected: 'nothing, true, or {reason}',
            options: [{ kind: 'null' }, { kind: 'boolean' }, obj({ reason: opt(str('Why the run ends')) })],
          }),
        }),
      },
    },
  ],
};

const workflowSpec = obj({
  description: opt(str()),
  trigger: req({
    kind: 'union',
    expected: 'a trigger name or a list of trigger names',
    options: [
      { kind: 'string', format: 'dnsLabel' },
      { kind: 'array', items: { kind: 'string', format: 'dnsLabel' }, minItems: 1 },
    ],
  }),
  conditions: opt(
    cel('CEL over the trigger aliases, event, profile and trigger; the run starts only if true'),
  ),
  priority: opt(priority()),
  holdout: opt({ kind: 'percent', description: 'Control group share: 10% (or the number 10)' }),
  transactional: opt({
    kind: 'boolean',
    default: false,
    description: 'Exempt from marketing caps and quiet hours (still deduplicated)',
  }),
  frequencyCap: opt(
    obj({
      max: req({ kind: 'number', integer: true, minimum: 1 }),
      per: req(duration()),
    }),
  ),
  quietHours: opt(
    obj({
      from: req(timeOfDay()),
      to: req(timeOfDay()),
      action: opt({ kind: 'string', enum: ['defer', 'drop'], description: 'default defer' }),
    }),
  ),
  conversion: opt(
    obj({
      event: req(eventType('Conversion event type')),
      within: req(duration('Attribution window')),
      value: opt(cel('CEL value of the conversion, over event (the conversion event), aliases and profile')),
    }),
  ),
  cost: opt({
    kind: 'map',
    keys: CHANNELS,
    values: { kind: 'number', minimum: 0 },
    description: 'Cost per message',
  }),
  settle: opt(duration('Arbitration settle window')),
  steps: req(stepsRef),
});

const metadata = obj({
  name: req({ kind: 'string', format: 'dnsLabel' }),
  labels: opt({ kind: 'map', values: { kind: 'string' } }),
});

const envelope = (kind: DefinitionKind, spec: Schema): ObjectSchema =>
  obj({
    apiVersion: req({ kind: 'string', enum: [API_VERSION] }),
    kind: req({ kind: 'string', enum: [kind] }),
    metadata: req(metadata),
    spec: req(spec),
  });

export const definitions: Definitions = {
  pattern,
  steps: { kind: 'array', items: step, minItems: 1, maxItems: DEFINITION_LIMITS.maxWorkflowSteps },
  triggerSpec,
  workflowSpec,
  metadata,
};

/** Envelope with `spec` left open: the kind decides which spec schema applies. */
export const envelopeSchema: ObjectSchema = obj({
  apiVersion: req({ kind: 'string', enum: [API_VERSION] }),
  kind: req({ kind: 'string', enum: KINDS }),
  metadata: req({ kind: 'ref', ref: 'metadata' }),
  spec: req({ kind: 'object', properties: {} }),
});

export const specSchemaByKind: Record<DefinitionKind, Schema> = {
  Trigger: { kind: 'ref', ref: 'triggerSpec' },
  Workflow: { kind: 'ref', ref: 'workflowSpec' },
};

/** The JSON Schema for editors (yaml-language-server etc.). */
export function kairosJsonSchema(): Record<string, unknown> {
  const $defs: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(definitions)) $defs[name] = toJsonSchema(s, definitions);
  const trigger = toJsonSchema(envelope('Trigger', specSchemaByKind.Trigger), definitions);
  const workflow = toJsonSchema(envelope('Workflow', specSchemaByKind.Workflow), definitions);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://kairos.dev/schema/kairos-v1.schema.json',
    title: 'Kairos definition (kairos/v1 Trigger or Workflow)',
    oneOf: [
      { ...trigger, title: 'Trigger' },
      { ...workflow, title: 'Workflow' },
    ],
    $defs,
  };
}
