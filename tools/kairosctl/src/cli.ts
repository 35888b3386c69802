import * as commands from './commands';
import { isWellFormedText, quoteInput } from '@kairos/contracts';
import { CliError, EXIT } from './errors';
import { processIo, type Io } from './io';
import { predict } from './predict';
import { dlq } from './dlq';
import { model } from './predict-online';
import { report } from './report';

export const USAGE = `kairosctl — manage Kairos definitions and inspect triggers

Usage: kairosctl <command> [flags]

Commands:
  validate -f <file|dir>                     validate Trigger/Workflow YAML (offline)
  apply -f <file|dir>                        store definitions (created / updated / unchanged, with versions)
  diff -f <file|dir>                         show what apply would change
  get [kind] [name] [-o table|yaml|json]     list or show stored definitions
  history <kind> <name>                      versions of a definition
  delete <kind> <name>                       delete a definition
  simulate -f <trigger.yaml> (--events <events.ndjson> | --since <24h>) [--customer <id> ...]
                                             run a draft trigger; prints who would fire, when and why
  explain <trigger> <customer>               why a trigger did or did not fire for a customer
  send --type <type> --customer <id> [--prop k=v ...] [--id <id>] [--category <c>]
                                             emit a test event through ingest
  profile <customer>                         show a customer's profile (ProfileService)
  profile erase <customer> [--wait <60s>] [-o table|json]
                                             erase a customer everywhere (privacy request); --wait waits
                                             for every service's acknowledgement and shows what each removed
  trace <action-id|event-id> [--since 24h]   why a customer got a message: event, trigger and its
                                             explanation, workflow run (arbitration, waits), delivery
  predict <customer> [-o table|json]         a customer's live churn and purchase scores, features and
                                             contributions, best send hour (PredictionService)
  model report [churn|purchase] [--partitions] [-o table|json]
                                             AUC, calibration by decile, Brier, examples, baseline AUC
  report <measure> [--since 7d | --from <time> --to <time>] [--group-by <g>] [--granularity minute|hour|day]
         [--model last|first|linear] [--trigger <t> ...] [--workflow <w> ...] [--channel <c> ...] [-o table|json]
                                             analytics: volume (with anomalies), funnel, lift (vs holdout and
                                             campaigns, 95% CI), timing, roi, reasons, attribution;
                                             'report outcomes --raw' exports one row per message (CSV, or NDJSON)
  predict --events <events.ndjson> --as-of <time> --horizon <days> [--churn-days <days>] [--format csv|json]
                                             offline churn and purchase scores per customer (no services):
                                             trains on the file's history before --as-of, baseline beside
  dlq list [--subject <filter>] [--limit <n>] [-o table|json]
                                             dead-lettered messages: subject, failing consumer, error
  dlq show <seq>                             one dead letter with its payload
  dlq replay <seq ...>                       send dead letters back to the consumer that failed them (once)

Environment: NATS_URL (nats://127.0.0.1:4222), KAIROS_INGEST_ADDR (127.0.0.1:50051),
  KAIROS_PATTERN_ADDR (127.0.0.1:50053), KAIROS_PROFILE_ADDR (127.0.0.1:50052), KAIROS_API_KEY (ingest's key,
  sent as a bearer token), KAIROS_ORCHESTRATION_URL (http://127.0.0.1:8084), KAIROS_PREDICTION_ADDR (127.0.0.1:50057),
  KAIROS_ANALYTICS_ADDR (127.0.0.1:50056). Credentials: KAIROS_ADMIN_TOKEN_FILE or KAIROS_ADMIN_TOKEN (the admin
  token for simulate, explain, profile, predict, model, report, trace; default: the local runner's
  .kairos/credentials/admin-token), KAIROS_TLS_CA_FILE (TLS), KAIROS_TLS_CERT_FILE + KAIROS_TLS_KEY_FILE (mTLS).
  dlq, apply and the other definitions commands go to NATS directly: the NATS credentials govern them.
Exit codes: 0 ok, 1 failed or invalid input, 2 usage error, 3 server unreachable.`;

const COMMANDS: Record<string, commands.Command> = {
  validate: commands.validate,
  apply: commands.apply,
  diff: commands.diff,
  get: commands.get,
  history: commands.history,
  delete: commands.del,
  simulate: commands.simulate,
  explain: commands.explain,
  send: commands.send,
  profile: commands.profile,
  trace: commands.trace,
  predict,
  dlq,
  model,
  report,
};

/**
 * The first argument that is not valid text: Node decodes argv leniently, turning bytes that are not
 * UTF-8 into U+FFFD, so `Y\xff` and `Y\xfe` would both arrive as `Y\ufffd` (one id for two).
 */
function badArgument(argv: string[]): string | undefined {
  const i = argv.findIndex((a) => a.includes('\ufffd') || !isWellFormedText(a));
  if (i < 0) return undefined;
  return (
    `argument ${i + 1} (${quoteInput(argv[i])}) is not valid UTF-8 ` +
    `(invalid bytes arrive as U+FFFD); pass identifiers and values as UTF-8 text`
  );
}

/** Runs one command line; returns the exit code (never exits the process). */
export async function runCli(argv: string[], io: Io = processIo): Promise<number> {
  const invalid = badArgument(argv);
  if (invalid) {
    io.err(`error: ${invalid}`);
    return EXIT.usage;
  }
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    (name ? io.out : io.err)(USAGE);
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`error: unknown command '${name}'`);
    io.err(`run 'kairosctl help' for the list of commands`);
    return EXIT.usage;
  }
  try {
    return await command(rest, io);
  } catch (err) {
    if (err instanceof CliError) {
      io.err(`error: ${err.message}`);
      if (err.exitCode === EXIT.usage) io.err(`run 'kairosctl help' for usage`);
      return err.exitCode;
    }
    io.err(`error: ${(err as Error).stack ?? String(err)}`);
    return EXIT.failed;
  }
}
