export async function runActionsBenchmark(): Promise<never> {
  throw new Error('todo');
}
export type ActionsBenchmarkResult = unknown;
