import 'reflect-metadata';
import { container as rootContainer, type DependencyContainer, type InjectionToken } from 'tsyringe';

/**
 * Composition-root helpers. Services register concrete values and classes against tokens in
 * src/main.ts; domain classes take them with explicit @inject(TOKEN) on every constructor
 * parameter, so wiring does not depend on emitted decorator metadata.
 */
export function createContainer(values: Array<[InjectionToken<unknown>, unknown]> = []): DependencyContainer {
  const c = rootContainer.createChildContainer();
  for (const [token, value] of values) c.register(token, { useValue: value });
  return c;
}

/** Common tokens every service uses. */
export const TOKENS = {
  Config: Symbol.for('kairos.Config'),
  Logger: Symbol.for('kairos.Logger'),
  Nats: Symbol.for('kairos.Nats'),
  Publisher: Symbol.for('kairos.Publisher'),
  Mongo: Symbol.for('kairos.Mongo'),
  Clock: Symbol.for('kairos.Clock'),
} as const;

/** Time source, injectable so tests can move time. */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };
