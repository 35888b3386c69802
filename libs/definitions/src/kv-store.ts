/** The definition store on NATS JetStream KV (bucket `kairos-definitions`, history 64). */
import type { KV, KvEntry } from '@nats-io/kv';
import type { ProvisionMode } from '@kairos/contracts';
import { ensureKv } from '@kairos/messaging';
import type { NatsConnection } from '@nats-io/nats-core';
import {
  DEFINITIONS_BUCKET,
  DEFINITIONS_HISTORY,
  KvDefinitionStore,
  type KvBackend,
  type RawEntry,
  type WatchHandle,
} from './store';

function raw(e: KvEntry): RawEntry {
  return { key: e.key, revision: e.revision, operation: e.operation, value: e.string(), created: e.created };
}

export class NatsKvBackend implements KvBackend {
  constructor(readonly kv: KV) {}

  async get(key: string): Promise<RawEntry | null> {
    const e = await this.kv.get(key);
    return e ? raw(e) : null;
  }
  create(key: string, value: string): Promise<number> {
    return this.kv.create(key, value);
  }
  update(key: string, value: string, revision: number): Promise<number> {
    return this.kv.update(key, value, revision);
  }
  put(key: string, value: string): Promise<number> {
    return this.kv.put(key, value);
  }
  async delete(key: string, previousRevision?: number): Promise<void> {
    await this.kv.delete(key, previousRevision !== undefined ? { previousSeq: previousRevision } : undefined);
  }
  async history(key: string): Promise<RawEntry[]> {
    const out: RawEntry[] = [];
    for await (const e of await this.kv.history({ key })) out.push(raw(e));
    return out;
  }
  async keys(filter: string): Promise<string[]> {
    const out: string[] = [];
    for await (const k of await this.kv.keys(filter)) out.push(k);
    return out;
  }
  async watch(onEntry: (e: RawEntry, initial: boolean) => void): Promise<WatchHandle> {
    // Everything up to the stream's last sequence at subscription time is the initial state.
    const status = await this.kv.status();
    const lastSeq = status.streamInfo.state.last_seq;
    let resolveReady!: () => void;
    const ready = new Promise<void>((r) => (resolveReady = r));
    let initial = lastSeq > 0;
    if (!initial) resolveReady();
    const iter = await this.kv.watch();
    const done = (async () => {
      for await (const e of iter) {
        const wasInitial = initial && e.revision <= lastSeq;
        onEntry(raw(e), wasInitial);
        if (initial && e.revision >= lastSeq) {
          initial = false;
          resolveReady();
        }
      }
    })();
    return {
      ready,
      stop: async () => {
        iter.stop();
        await done.catch(() => undefined);
      },
    };
  }
}

export interface NatsDefinitionStoreOptions {
  bucket?: string;
  /** Replicas of the bucket stream (default 1). */
  replicas?: number;
  now?: () => Date;
  /**
   * `self` (default) creates the bucket when missing; `external` only binds to the one the
   * provisioning Job created (`KAIROS_PROVISION`), which needs no stream admin rights.
   */
  provision?: ProvisionMode;
}

/** Creates (or binds to) the definitions bucket and returns the store. */
export async function openNatsDefinitionStore(
  nc: NatsConnection,
  options: NatsDefinitionStoreOptions = {},
): Promise<KvDefinitionStore> {
  const kv = await ensureKv(nc, options.bucket ?? DEFINITIONS_BUCKET, {
    history: DEFINITIONS_HISTORY,
    replicas: options.replicas ?? 1,
    provision: options.provision,
  });
  return new KvDefinitionStore(new NatsKvBackend(kv), options.now);
}
