import { celEnv, celList, celMap, isCelError, parse, plan, type CelInput } from '@bufbuild/cel';
import type { JourneyRule } from './settings';
import type { ProfileDoc } from './profile-model';

const DAY_MS = 86_400_000;
const env = celEnv();

/** Converts plain data to CEL input: objects become maps, Dates epoch milliseconds. */
export function toCel(v: unknown): CelInput {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.getTime();
  if (Array.isArray(v)) return celList(v.map(toCel));
  if (typeof v === 'object') {
    const m = new Map<string, CelInput>();
    for (const [k, val] of Object.entries(v as Record<string, unknown>))
      if (val !== undefined) m.set(k, toCel(val));
    return celMap(m);
  }
  return v as CelInput;
}

interface CompiledRule {
  stage: string;
  source: string;
  run: (ctx: Record<string, CelInput>) => unknown;
}

/** Variables a journey rule sees (documented in the README). */
export function journeyVariables(profile: ProfileDoc, nowMs: number): Record<string, CelInput> {
  const c = profile.counters;
  const days = (d: Date | undefined) => (d ? Math.max(0, (nowMs - d.getTime()) / DAY_MS) : 0);
  return {
    profile: toCel({
      customer_id: profile._id,
      traits: profile.traits,
      consent: profile.consent,
      preferences: profile.preferences,
      contacts: profile.contacts,
      time_zone: profile.time_zone,
      dates: profile.dates,
    }),
    traits: toCel(profile.traits),
    counters: toCel({ ...c, events_by_type: Object.fromEntries(c.events_by_type.map((e) => [e.t, e.n])) }),
    days_since_last_seen: days(c.last_seen),
    days_since_first_seen: days(c.first_seen),
  };
}

/**
 * Journey stage from ordered CEL rules: the first rule whose condition is true wins, otherwise the
 * default stage. A rule that errors at evaluation (e.g. a missing trait) counts as not matching.
 */
export class JourneyClassifier {
  private readonly rules: CompiledRule[];

  constructor(
    rules: JourneyRule[],
    private readonly defaultStage: string,
  ) {
    this.rules = rules.map((r, i) => {
      let parsed;
      try {
        parsed = parse(r.when);
      } catch (err) {
        throw new Error(
          `journey.rules[${i}] (${r.stage}): invalid CEL '${r.when}': ${(err as Error).message}`,
        );
      }
      return { stage: r.stage, source: r.when, run: plan(env, parsed) as CompiledRule['run'] };
    });
  }

  classify(profile: ProfileDoc, nowMs: number): string {
    const vars = journeyVariables(profile, nowMs);
    for (const rule of this.rules) {
      const result = rule.run(vars);
      if (!isCelError(result) && result === true) return rule.stage;
    }
    return this.defaultStage;
  }
}
