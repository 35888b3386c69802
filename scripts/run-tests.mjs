// Runs one test level (unit | integration | e2e | chaos | k8s) across the workspace with mocha, over
// the compiled tests (dist/test/<level>/**/*.test.js; e2e: e2e/dist/test; chaos: e2e/dist/chaos, the
// mesh under load and faults, KAIROS_CHAOS_PROFILE=short|long; k8s: tools/deploy's suite on a real
// single-node cluster). Fails when a level runs no test, so a suite is never silently
// skipped, and ends with a plain "N passed, N failed" line. TEST_FILES,
// when set, keeps only the files whose path holds it (`pnpm test:fuzz` runs the `.fuzz.test.` files).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const require = createRequire(join(root, 'package.json'));
const Mocha = require('mocha');

const level = process.argv[2];
if (!['unit', 'integration', 'e2e', 'chaos', 'k8s'].includes(level)) {
  console.error(
    `usage: run-tests.mjs unit|integration|e2e|chaos|k8s [package-filter]   (got '${level ?? ''}')`,
  );
  process.exit(2);
}
const filter = process.argv[3];

function walk(dir, out) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const testDirs = [];
if (level === 'e2e') {
  testDirs.push(join(root, 'e2e', 'dist', 'test'));
} else if (level === 'chaos') {
  testDirs.push(join(root, 'e2e', 'dist', 'chaos'));
} else {
  for (const group of ['libs', 'services', 'tools']) {
    const dir = join(root, group);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir).sort()) {
      if (filter && !name.includes(filter)) continue;
      testDirs.push(join(dir, name, 'dist', 'test', level));
    }
  }
}
const only = process.env.TEST_FILES;
const files = testDirs.flatMap((d) => walk(d, [])).filter((f) => !only || f.includes(only));
if (files.length === 0) {
  console.error(`${level}: no test files found (did 'pnpm build' run?)`);
  process.exit(1);
}
console.log(`${level}: ${files.length} test files`);

const timeout = { unit: 10_000, integration: 90_000, e2e: 240_000, chaos: 1_200_000, k8s: 900_000 }[level];
// In CI a skipped test fails the run: a suite skipped there proves nothing (locally, a test may skip
// where this machine lacks what it needs, e.g. Podman without root).
const mocha = new Mocha({
  timeout,
  reporter: process.env.MOCHA_REPORTER ?? 'spec',
  forbidPending: Boolean(process.env.CI),
});
if (level === 'unit') {
  mocha.parallelMode(true);
  mocha.options.jobs = 2;
}
for (const f of files) mocha.addFile(f);

const runner = mocha.run((failures) => {
  const stats = runner.stats ?? { passes: 0, failures, pending: 0, tests: 0 };
  const passed = stats.passes ?? 0;
  const failed = stats.failures ?? failures;
  console.log(
    `\n${level}: ${passed} passed, ${failed} failed${stats.pending ? `, ${stats.pending} skipped` : ''}`,
  );
  if (passed + failed === 0) {
    console.error(`${level}: no test ran; a suite that runs nothing proves nothing`);
    process.exit(1);
  }
  // Child processes and open handles of a failed test must not keep the run alive.
  process.exit(failed > 0 ? 1 : 0);
});
