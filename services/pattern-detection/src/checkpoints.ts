import { gunzipSync, gzipSync } from 'node:zlib';
import type { KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import type { ProvisionMode } from '@kairos/contracts';
import { ensureKv } from '@kairos/messaging';
import type { EngineSnapshot } from '@kairos/patterns';

/** Engine state of one partition and the last stream sequence it reflects. */
export interface PartitionCheckpoint {
  partition: number;
  /** EVENTS stream sequence of the last event folded into `snapshot`; replay starts after it. */
  sequence: number;
  savedAt: number;
  snapshot: EngineSnapshot;
  /** Last profile (proto JSON) of customers that have engine state, for fires completed by deadlines. */
  profiles: Record<string, unknown>;
}

export interface CheckpointStore {
  load(partition: number): Promise<PartitionCheckpoint | undefined>;
  save(checkpoint: PartitionCheckpoint): Promise<void>;
  /** Forgets a partition's checkpoint (tests, operations). */
  clear(partition: number): Promise<void>;
}

export const CHECKPOINT_BUCKET = 'kairos-pattern-checkpoints';
/** A checkpoint key keeps its latest value only. */
export const CHECKPOINT_HISTORY = 1;
/** Chunk size under the default 1 MiB NATS max payload. */
const CHUNK_BYTES = 512 * 1024;

interface Manifest {
  generation: number;
  sequence: number;
  savedAt: number;
  chunks: number;
  bytes: number;
}

const manifestKey = (p: number) => `p${String(p).padStart(2, '0')}`;
const chunkKey = (p: number, gen: number, i: number) => `${manifestKey(p)}.g${gen}.c${i}`;

/**
 * Checkpoints in a JetStream KV bucket (`kairos-pattern-checkpoints`, history 1). A checkpoint is
 * gzip'd JSON split into 512 KiB chunks written under a new generation first; the manifest key
 * `pNN` is switched last, so a crash mid-write leaves the previous checkpoint intact. Older
 * generations' chunks are purged after the switch.
 */
export class KvCheckpointStore implements CheckpointStore {
  private constructor(private readonly kv: KV) {}

  /**
   * Opens the bucket: creates it when missing with `replicas` copies (KAIROS_STREAM_REPLICAS), or
   * under `provision: 'external'` binds to the one the provisioning Job created.
   */
  static async open(
    nc: NatsConnection,
    opts: { replicas: number; bucket?: string; provision?: ProvisionMode },
  ) {
    const kv = await ensureKv(nc, opts.bucket ?? CHECKPOINT_BUCKET, {
      history: CHECKPOINT_HISTORY,
      replicas: opts.replicas,
      provision: opts.provision,
    });
    return new KvCheckpointStore(kv);
  }

  async load(partition: number): Promise<PartitionCheckpoint | undefined> {
    const entry = await this.kv.get(manifestKey(partition));
    if (!entry || entry.operation !== 'PUT') return undefined;
    const m = entry.json<Manifest>();
    const parts: Uint8Array[] = [];
    for (let i = 0; i < m.chunks; i++) {
      const c = await this.kv.get(chunkKey(partition, m.generation, i));
      if (!c || c.operation !== 'PUT')
        throw new Error(`checkpoint of partition ${partition} misses chunk ${i}`);
      parts.push(c.value);
    }
    const json = gunzipSync(Buffer.concat(parts)).toString('utf8');
    return JSON.parse(json) as PartitionCheckpoint;
  }

  async save(cp: PartitionCheckpoint): Promise<void> {
    const p = cp.partition;
    const prev = await this.kv.get(manifestKey(p));
    const prevManifest = prev && prev.operation === 'PUT' ? prev.json<Manifest>() : undefined;
    const generation = (prevManifest?.generation ?? 0) + 1;
    const data = gzipSync(Buffer.from(JSON.stringify(cp), 'utf8'));
    const chunks = Math.max(1, Math.ceil(data.length / CHUNK_BYTES));
    for (let i = 0; i < chunks; i++) {
      await this.kv.put(chunkKey(p, generation, i), data.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES));
    }
    const manifest: Manifest = {
      generation,
      sequence: cp.sequence,
      savedAt: cp.savedAt,
      chunks,
      bytes: data.length,
    };
    await this.kv.put(manifestKey(p), JSON.stringify(manifest));
    if (prevManifest) {
      for (let i = 0; i < prevManifest.chunks; i++) {
        await this.kv.purge(chunkKey(p, prevManifest.generation, i)).catch(() => undefined);
      }
    }
  }

  async clear(partition: number): Promise<void> {
    const keys: string[] = [];
    for await (const k of await this.kv.keys(`${manifestKey(partition)}.>`)) keys.push(k);
    await this.kv.purge(manifestKey(partition)).catch(() => undefined);
    for (const k of keys) await this.kv.purge(k).catch(() => undefined);
  }
}

/** In memory (unit tests). */
export class MemoryCheckpointStore implements CheckpointStore {
  readonly saved = new Map<number, string>();
  async load(partition: number) {
    const s = this.saved.get(partition);
    return s ? (JSON.parse(s) as PartitionCheckpoint) : undefined;
  }
  async save(cp: PartitionCheckpoint) {
    this.saved.set(cp.partition, JSON.stringify(cp));
  }
  async clear(partition: number) {
    this.saved.delete(partition);
  }
}
