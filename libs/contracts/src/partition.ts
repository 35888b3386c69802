/**
 * The partition of a customer: FNV-1a 32-bit over the UTF-8 bytes of the customer id, modulo the
 * installation's partition count. Every stateful consumer processes one partition in order, so all
 * services must agree on this one function (test vectors in test/unit/partition.test.ts).
 */
export function fnv1a32(input: string): number {
  let hash = 0x811c9dc5;
  const bytes = Buffer.from(input, 'utf8');
  for (let i = 0; i < bytes.length; i++) {
    hash ^= bytes[i];
    // 32-bit multiply by the FNV prime 16777619, kept unsigned.
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function partitionOf(customerId: string, partitions: number): number {
  if (!Number.isInteger(partitions) || partitions < 1) {
    throw new RangeError(`partitions must be a positive integer, got ${partitions}`);
  }
  return fnv1a32(customerId) % partitions;
}

/** Partitions owned by replica `ordinal` of `replicas` (StatefulSet ordinal i of N owns p % N == i). */
export function partitionsOwnedBy(ordinal: number, replicas: number, partitions: number): number[] {
  if (!Number.isInteger(replicas) || replicas < 1)
    throw new RangeError(`replicas must be >= 1, got ${replicas}`);
  if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= replicas) {
    throw new RangeError(`ordinal must be in [0, ${replicas - 1}], got ${ordinal}`);
  }
  const owned: number[] = [];
  for (let p = 0; p < partitions; p++) if (p % replicas === ordinal) owned.push(p);
  return owned;
}
