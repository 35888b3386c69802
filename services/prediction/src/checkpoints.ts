import { gunzipSync, gzipSync } from 'node:zlib';
import { Binary, type Collection, type Db } from 'mongodb';
import { isDuplicateKey } from '@kairos/service-kit';
import type { EngineCheckpoint } from './domain/engine';
import type { ModelState } from './domain/learner';
import { noFaults } from '@kairos/service-kit';
import type { FaultHook } from './faults';

/** One partition's engine state and the last stream sequence it reflects. */
export interface PartitionCheckpoint {
  partition: number;
  /** EVENTS stream sequence of the last event folded into `engine`; the replay starts after it. */
  sequence: number;
  /** Wall-clock time of the write (the restore reads predicted events published since). */
  savedAt: number;
  engine: EngineCheckpoint;
}

/** A stored model version (the `model_versions` collection). */
export interface StoredModel {
  _id: string;
  model: 'churn' | 'purchase';
  partition: number;
  version: number;
  examples: number;
  /** Event time of its last label. */
  updatedAt: number;
  savedAt: Date;
  state: ModelState;
}

interface Manifest {
  _id: string;
  generation: number;
  sequence: number;
  savedAt: number;
  chunks: number;
  bytes: number;
}

interface Chunk {
  _id: string;
  partition: string;
  generation: number;
  data: Binary;
}

/** Chunk size, well under MongoDB's 16 MiB document limit. */
const CHUNK_BYTES = 4 * 1024 * 1024;

const partitionKey = (p: number) => `p${String(p).padStart(2, '0')}`;
const chunkKey = (p: number, gen: number, i: number) => `${partitionKey(p)}.g${gen}.c${i}`;
const modelKey = (model: string, p: number, version: number) => `${model}/${partitionKey(p)}/v${version}`;

/**
 * Checkpoints and models in the service's own database (`kairos_prediction`):
 * - `checkpoints`: one manifest per partition `{generation, sequence, savedAt, chunks}`;
 * - `checkpoint_chunks`: the gzip'd JSON of the checkpoint in 4 MiB chunks. A save writes the new
 *   generation's chunks first and switches the manifest last, so a crash mid-write keeps the
 *   previous checkpoint; older generations are deleted after the switch;
 * - `model_versions`: every model version a partition reached (written once, at the checkpoint that
 *   first holds it; the newest `keepVersions` per model and partition are kept). A partition
 *   without a checkpoint warm-starts from the newest of them (see `newestModels`).
 */
export class MongoCheckpointStore {
  private readonly manifests: Collection<Manifest>;
  private readonly chunks: Collection<Chunk>;
  readonly models: Collection<StoredModel>;

  constructor(
    db: Db,
    private readonly keepVersions: number,
    private readonly fault: FaultHook = noFaults,
  ) {
    this.manifests = db.collection<Manifest>('checkpoints');
    this.chunks = db.collection<Chunk>('checkpoint_chunks');
    this.models = db.collection<StoredModel>('model_versions');
  }

  async load(partition: number): Promise<PartitionCheckpoint | undefined> {
    const m = await this.manifests.findOne({ _id: partitionKey(partition) });
    if (!m) return undefined;
    const parts: Buffer[] = [];
    for (let i = 0; i < m.chunks; i++) {
      const c = await this.chunks.findOne({ _id: chunkKey(partition, m.generation, i) });
      if (!c) throw new Error(`checkpoint of partition ${partition} misses chunk ${i} of ${m.chunks}`);
      parts.push(Buffer.from(c.data.buffer));
    }
    return JSON.parse(gunzipSync(Buffer.concat(parts)).toString('utf8')) as PartitionCheckpoint;
  }

  /** Writes a checkpoint (chunks, new model versions, then the manifest); returns its size in bytes. */
  async save(cp: PartitionCheckpoint): Promise<number> {
    const p = cp.partition;
    const key = partitionKey(p);
    const prev = await this.manifests.findOne({ _id: key });
    const generation = (prev?.generation ?? 0) + 1;
    const data = gzipSync(Buffer.from(JSON.stringify(cp), 'utf8'));
    const count = Math.max(1, Math.ceil(data.length / CHUNK_BYTES));
    // A crash after some chunks left them behind: the same generation is rewritten in place.
    for (let i = 0; i < count; i++) {
      const slice = data.subarray(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES);
      await this.chunks.replaceOne(
        { _id: chunkKey(p, generation, i) },
        { partition: key, generation, data: new Binary(slice) },
        { upsert: true },
      );
    }
    await this.saveModels(p, cp.engine.models);
    this.fault('between-chunks-and-manifest');
    await this.manifests.replaceOne(
      { _id: key },
      { generation, sequence: cp.sequence, savedAt: cp.savedAt, chunks: count, bytes: data.length },
      { upsert: true },
    );
    await this.chunks.deleteMany({ partition: key, generation: { $ne: generation } });
    return data.length;
  }

  /**
   * Stores the models' current versions as `partition`'s (each version once). Checkpoints call it;
   * so can a tool that trained models elsewhere, to warm-start partitions that have no checkpoint.
   */
  async saveModels(partition: number, models: EngineCheckpoint['models']): Promise<void> {
    for (const state of [models.churn, models.purchase]) {
      const model = state.name as StoredModel['model'];
      const doc: StoredModel = {
        _id: modelKey(model, partition, state.version),
        model,
        partition,
        version: state.version,
        examples: state.examples,
        updatedAt: state.updatedAt,
        savedAt: new Date(),
        state,
      };
      try {
        await this.models.insertOne(doc);
      } catch (err) {
        // This version is stored already (its first checkpoint): versions are written once.
        if (!isDuplicateKey(err)) throw err;
        continue;
      }
      await this.models.deleteMany({
        model,
        partition,
        version: { $lte: state.version - this.keepVersions },
      });
    }
  }

  /** The most trained stored version of each model (any partition): a new partition's warm start. */
  async newestModels(): Promise<{ churn?: StoredModel; purchase?: StoredModel }> {
    const newest = (model: StoredModel['model']) =>
      this.models.find({ model }).sort({ examples: -1, savedAt: -1 }).limit(1).next();
    const [churn, purchase] = await Promise.all([newest('churn'), newest('purchase')]);
    return { churn: churn ?? undefined, purchase: purchase ?? undefined };
  }

  /** Forgets a partition's checkpoint (tests, operations); model versions stay. */
  async clear(partition: number): Promise<void> {
    await this.manifests.deleteOne({ _id: partitionKey(partition) });
    await this.chunks.deleteMany({ partition: partitionKey(partition) });
  }
}
