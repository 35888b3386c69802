/** True for a write refused because its unique key (`_id` or a unique index) is taken. */
export function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: number; message?: string };
  return e?.code === 11000 || /E11000|duplicate key/i.test(e?.message ?? '');
}
