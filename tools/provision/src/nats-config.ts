/**
 * Writes the `authorization` block of a nats-server configuration with one least-privilege user per
 * service and the admin user of the provisioning Job (see permissions.ts):
 *
 *   node tools/provision/dist/src/nats-config.js --passwords-dir DIR [--partitions 16] [--out FILE]
 *
 * Each user's password is read from `DIR/<user>` (a mounted Secret). The dev NATS of the umbrella
 * chart runs it in an init container; `nats-server -c FILE` then loads it. Exit 2 on bad arguments.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ADMIN_USER, natsAuthorization, renderAuthorization } from './permissions';
import { SERVICE_PROVISIONING } from './services';

export function readPasswords(dir: string, users: string[]): Record<string, string> {
  const passwords: Record<string, string> = {};
  for (const user of users) {
    const file = join(dir, user);
    if (!existsSync(file))
      throw new Error(`--passwords-dir: no file ${file} with the password of NATS user '${user}'`);
    passwords[user] = readFileSync(file, 'utf8').trim();
  }
  return passwords;
}

function run(argv: string[]): void {
  const { values } = parseArgs({
    args: argv,
    options: {
      'passwords-dir': { type: 'string' },
      partitions: { type: 'string', default: process.env.KAIROS_PARTITIONS || '16' },
      out: { type: 'string' },
    },
  });
  const partitions = Number(values.partitions);
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 1024)
    throw new Error(`--partitions: expected an integer from 1 to 1024, got '${values.partitions}'`);
  if (!values['passwords-dir'])
    throw new Error('--passwords-dir: required (a directory with one file per user)');
  const users = [ADMIN_USER, ...SERVICE_PROVISIONING.map((s) => s.service)];
  const text = renderAuthorization(
    natsAuthorization(SERVICE_PROVISIONING, {
      partitions,
      env: process.env,
      passwords: readPasswords(values['passwords-dir'], users),
    }),
  );
  if (values.out) writeFileSync(values.out, text, { mode: 0o600 });
  else process.stdout.write(text);
}

if (require.main === module) {
  try {
    run(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`nats-config: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
