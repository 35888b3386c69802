export * from './logger';
export * from './connection';
export * from './provision';
export * from './publisher';
export * from './consumer';
export * from './scan';
export type { NatsConnection } from '@nats-io/nats-core';
export type { KV } from '@nats-io/kv';
export type { PubAck } from '@nats-io/jetstream';
