import 'reflect-metadata';
import { container as rootContainer, type DependencyContainer, type InjectionToken } from 'tsyringe';
import type { Db } from 'mongodb';
import type { NatsConnection, Publisher } from '@kairos/messaging';
import type { CommonConfig } from './config';
import type { Logger } from './logger';

/**
 * A DI token that names the type of what it holds. It is a tsyringe InjectionToken (a symbol at run
 * time); the type parameter lets `provide` and `resolveToken` check the value against it.
 */
export type Token<T> = symbol & { readonly __holds?: T };

/** A token for values of type T; `Symbol.for(name)`, so the same name gives the same token. */
export function token<T>(name: string): Token<T> {
  return Symbol.for(name) as Token<T>;
}

/** One registration for createContainer: a token and the value it holds. */
export interface Provision {
  token: InjectionToken<unknown>;
  value: unknown;
}

/** Pairs a token with a value of the type it holds. */
export function provide<T>(t: Token<T>, value: T): Provision {
  return { token: t, value };
}

/**
 * Composition-root helpers. Services register concrete values and classes against tokens in
 * src/app.ts; domain classes take them with explicit @inject(TOKEN) on every constructor
 * parameter, so wiring does not depend on emitted decorator metadata.
 */
export function createContainer(values: Provision[] = []): DependencyContainer {
  const c = rootContainer.createChildContainer();
  for (const { token: t, value } of values) c.register(t, { useValue: value });
  return c;
}

/** Resolves a typed token. */
export function resolveToken<T>(c: DependencyContainer, t: Token<T>): T {
  return c.resolve<T>(t);
}

/** Time source, injectable so tests can move time. */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };

/** Common tokens every service uses. */
export const TOKENS = {
  Config: token<CommonConfig>('kairos.Config'),
  Logger: token<Logger>('kairos.Logger'),
  Clock: token<Clock>('kairos.Clock'),
  /** The service's own database (see connectMongo). */
  Db: token<Db>('kairos.Db'),
  Nats: token<NatsConnection>('kairos.Nats'),
  Publisher: token<Publisher>('kairos.Publisher'),
} as const;
