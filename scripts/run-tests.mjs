// Runs one test level (unit | integration | e2e) across the workspace with mocha, over the compiled
// tests (dist/test/<level>/**/*.test.js). Fails when a level that has test files runs no test, so a
// suite can never be silently skipped.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const level = process.argv[2];
if (!['unit', 'integration', 'e2e'].includes(level)) {
  console.error(`usage: run-tests.mjs unit|integration|e2e [package-filter]   (got '${level ?? ''}')`);
  process.exit(2);
}
const filter = process.argv[3];

function walk(dir, out) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const packages = [];
for (const group of ['libs', 'services', 'tools']) {
  const dir = join(root, group);
  if (!existsSync(dir)) continue;
  for (const name of readdirSync(dir).sort()) packages.push(join(dir, name));
}
packages.push(join(root, 'e2e'));

const files = [];
for (const pkg of packages) {
  if (filter && !pkg.includes(filter)) continue;
  const testDir =
    level === 'e2e' && pkg.endsWith('e2e') ? join(pkg, 'dist', 'test') : join(pkg, 'dist', 'test', level);
  if (level === 'e2e' && !pkg.endsWith('e2e')) continue;
  walk(testDir, files);
}
if (files.length === 0) {
  console.error(`no ${level} test files found (did 'pnpm build' run?)`);
  process.exit(1);
}
console.log(`${level}: ${files.length} test files`);
const timeout = { unit: '10000', integration: '60000', e2e: '180000' }[level];
const mocha = join(root, 'node_modules', '.bin', 'mocha');
const args = [
  '--timeout',
  timeout,
  '--exit',
  '--reporter',
  process.env.MOCHA_REPORTER ?? 'spec',
  ...files.map((f) => relative(root, f)),
];
if (level === 'unit') args.unshift('--parallel', '--jobs', '2');
const result = spawnSync(mocha, args, { cwd: root, stdio: 'inherit' });
process.exit(result.status ?? 1);
