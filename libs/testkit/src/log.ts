const said = new Set<string>();

/** Writes a testkit message to stderr once per process per key. */
export function logOnce(key: string, message: string): void {
  if (said.has(key)) return;
  said.add(key);
  process.stderr.write(`[testkit] ${message}\n`);
}

export function testLogsEnabled(): boolean {
  return process.env.KAIROS_TEST_LOGS === '1' || process.env.KAIROS_TEST_LOGS === 'true';
}
