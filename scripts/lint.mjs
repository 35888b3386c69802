// Lint = buf lint (protos) + ESLint (TypeScript) + Prettier check.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const bin = (name) => join(root, 'node_modules', '.bin', name);
const steps = [
  ['buf lint', bin('buf'), ['lint'], join(root, 'proto')],
  ['eslint', bin('eslint'), ['--max-warnings', '0', '.']],
  ['prettier', bin('prettier'), ['--check', '--log-level', 'warn', '.']],
];
for (const [name, cmd, args, cwd = root] of steps) {
  const r = spawnSync(cmd, args, { cwd, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`lint: ${name} failed`);
    process.exit(r.status ?? 1);
  }
}
console.log('lint: buf, eslint and prettier are clean');
