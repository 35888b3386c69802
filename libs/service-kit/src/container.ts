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

/** The tokens of a service: one per key of T, each holding the type T gives that key. */
export type Tokens<T> = { readonly [K in keyof T & string]: Token<T[K]> };

/**
 * Declares a service's tokens once, by name and held type:
 * `tokens<{ Store: FactStore }>('kairos.analytics').Store` is `token<FactStore>('kairos.analytics.Store')`.
 * The names exist only in the type, so the object answers every key it is asked for; the compiler
 * refuses keys T does not have.
 */
export function tokens<T extends object>(prefix: string): Tokens<T> {
  return new Proxy({} as Tokens<T>, {
    get: (_target, key) => (typeof key === 'string' ? token(`${prefix}.${key}`) : undefined),
  });
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
export const TOKENS = tokens<{
  Config: CommonConfig;
  Logger: Logger;
  Clock: Clock;
  /** The service's own database (see connectMongo). */
  Db: Db;
  Nats: NatsConnection;
  Publisher: Publisher;
}>('kairos');

/** What a service registers under the common TOKENS: its settings and the infrastructure it runs on. */
export interface CommonProvisions {
  logger: Logger;
  nc: NatsConnection;
  clock: Clock;
  /** Registered when the service publishes. */
  publisher?: Publisher;
  /** Registered when the service has a database of its own. */
  db?: Db;
}

/**
 * A service's container: the common TOKENS (Config, Logger, Nats, Clock, and Publisher and Db when
 * given), then the service's own registrations.
 */
export function serviceContainer(
  config: CommonConfig,
  common: CommonProvisions,
  own: Provision[] = [],
): DependencyContainer {
  return createContainer([
    provide(TOKENS.Config, config),
    provide(TOKENS.Logger, common.logger),
    provide(TOKENS.Nats, common.nc),
    provide(TOKENS.Clock, common.clock),
    ...(common.publisher ? [provide(TOKENS.Publisher, common.publisher)] : []),
    ...(common.db ? [provide(TOKENS.Db, common.db)] : []),
    ...own,
  ]);
}
