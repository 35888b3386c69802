import { Chunk } from './layout';

/**
 * Grows a table of rows of `width` numbers kept in chunks (rows [c * Chunk.SIZE, (c + 1) * Chunk.SIZE)
 * in chunk c) from `capacity` rows: chunk 0 starts at 16 rows and doubles up to Chunk.SIZE, then
 * whole chunks are added. Returns the new capacity.
 */
export function growChunks(chunks: Float64Array[], capacity: number, width: number): number {
  if (capacity >= Chunk.SIZE) {
    chunks.push(new Float64Array(Chunk.SIZE * width));
    return capacity + Chunk.SIZE;
  }
  const to = Math.min(Chunk.SIZE, Math.max(16, capacity * 2));
  const first = new Float64Array(to * width);
  first.set(chunks[0]);
  chunks[0] = first;
  return to;
}
