/**
 * Settings shared by the hostile-input fuzz tests (`*.fuzz.test.ts`, fast-check). The default suite
 * runs each property with a small case count; `pnpm test:fuzz` sets FUZZ_RUNS (10,000) and runs only
 * the fuzz tests. fast-check prints the seed and path of a failing case; FUZZ_SEED (and FUZZ_PATH)
 * replay it.
 */

/** Whether this is the opt-in fuzz run (FUZZ_RUNS set). */
export function fuzzRunRequested(): boolean {
  return Boolean(process.env.FUZZ_RUNS);
}

/** The cases per property: FUZZ_RUNS when set, else `ciRuns` (what the default suite affords). */
export function fuzzRuns(ciRuns: number): number {
  const requested = Number(process.env.FUZZ_RUNS);
  return Number.isInteger(requested) && requested > 0 ? requested : ciRuns;
}

/** Parameters for `fc.assert` (structurally fast-check's `Parameters`), honouring FUZZ_SEED/FUZZ_PATH. */
export function fuzzParameters(ciRuns: number): { numRuns: number; seed?: number; path?: string } {
  const seed = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
  return {
    numRuns: fuzzRuns(ciRuns),
    ...(seed !== undefined && Number.isInteger(seed) ? { seed } : {}),
    ...(process.env.FUZZ_PATH ? { path: process.env.FUZZ_PATH } : {}),
  };
}

/**
 * A mocha timeout for a property of `ciRuns` cases costing up to `msPerCase` each (plus a minute of
 * slack), so the opt-in run's larger count is not cut short by the suite's default timeout.
 */
export function fuzzTimeout(ciRuns: number, msPerCase: number): number {
  return 60_000 + fuzzRuns(ciRuns) * msPerCase;
}

/** Counts the cases of one surface; `report()` prints `fuzz <surface>: <n> cases` (the opt-in run's figures). */
export class FuzzTally {
  private readonly counts = new Map<string, number>();

  constructor(readonly surface: string) {}

  /** Counts one case under `outcome` (e.g. accepted, rejected). */
  add(outcome: string): void {
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + 1);
  }

  get total(): number {
    let n = 0;
    for (const c of this.counts.values()) n += c;
    return n;
  }

  /** The line printed after a property: total and per outcome. */
  line(): string {
    const parts = [...this.counts].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k} ${v}`);
    return `fuzz ${this.surface}: ${this.total} cases (${parts.join(', ')})`;
  }

  /** Prints the line in the opt-in run (the default suite stays quiet). */
  report(): void {
    if (fuzzRunRequested()) console.log(`      ${this.line()}`);
  }
}
