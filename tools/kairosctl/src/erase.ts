import { parseDuration } from '@kairos/definitions';
import { SCHEMAS, STREAMS, filters, type privacy } from '@kairos/contracts';
import { scanStream, type NatsConnection } from '@kairos/messaging';
import { eraseCall, withNats } from './clients';
import { parse } from './args';
import { failed, usageError } from './errors';
import { table, type Io } from './io';

export const ERASE_USAGE = 'profile erase <customer> [--wait <duration, e.g. 60s>] [-o table|json]';
const POLL_MS = 500;

/** The acknowledgements of one erasure stored in the PRIVACY stream so far, by service. */
async function acknowledgements(
  nc: NatsConnection,
  erasureId: string,
): Promise<Map<string, privacy.CustomerErased>> {
  const acks = new Map<string, privacy.CustomerErased>();
  for await (const m of scanStream(nc, { stream: STREAMS.PRIVACY.name, filter: filters.allErased })) {
    const ack = SCHEMAS.CustomerErased.type.decode(m.data);
    if (ack.erasureId === erasureId) acks.set(ack.service, ack);
  }
  return acks;
}

const counts = (removed: Record<string, number>) =>
  Object.entries(removed)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ') || '-';

/**
 * `kairosctl profile erase <customer>`: erases the customer through ProfileService.Delete (enrichment
 * erases its part and sends the erase command to every service), prints what enrichment removed and
 * where the request went; with `--wait`, waits for every service's acknowledgement and prints what
 * each removed (exit 1 naming the services that did not answer in time).
 */
export async function erase(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(
    'profile erase',
    args,
    { wait: { type: 'string' }, output: { type: 'string', short: 'o' } },
    1,
  );
  const customerId = positionals[0];
  if (!customerId) throw usageError(`profile erase: expected <customer> (${ERASE_USAGE})`);
  const format = values.output ?? 'table';
  if (format !== 'table' && format !== 'json')
    throw usageError(`profile erase: unknown output '${format}' (expected table or json)`);
  const waitMs = values.wait === undefined ? 0 : parseDuration(values.wait);
  if (waitMs === undefined || waitMs < 0)
    throw usageError(`profile erase: --wait expects a duration like 30s or 5m, got '${values.wait}'`);

  const res = await eraseCall(io, customerId);
  const enrichment = {
    profiles: res.deleted ? 1 : 0,
    communications: res.communicationsDeleted,
    time_occurrences: res.timeOccurrencesDeleted,
  };
  let acks = new Map<string, privacy.CustomerErased>();
  if (waitMs > 0) {
    const deadline = io.now() + waitMs;
    acks = await withNats(io, async (nc) => {
      for (;;) {
        const found = await acknowledgements(nc, res.erasureId);
        if (res.services.every((s) => found.has(s)) || io.now() >= deadline) return found;
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    });
  }
  const missing = waitMs > 0 ? res.services.filter((s) => !acks.has(s)) : [];
  if (format === 'json') {
    io.out(
      JSON.stringify(
        {
          erasureId: res.erasureId,
          enrichment,
          services: Object.fromEntries(
            res.services.map((s) => [s, acks.has(s) ? { erased: acks.get(s)!.removed } : { erased: null }]),
          ),
        },
        null,
        2,
      ),
    );
  } else {
    io.out(`Erasure ${res.erasureId}`);
    io.out(`enrichment erased at once: ${counts(enrichment)}`);
    io.out(`sent to: ${res.services.join(', ')}`);
    if (waitMs > 0)
      for (const line of table(
        ['SERVICE', 'STATUS', 'REMOVED'],
        res.services.map((s) => {
          const ack = acks.get(s);
          return [s, ack ? 'erased' : 'pending', ack ? counts(ack.removed) : '-'];
        }),
      ))
        io.out(line);
    else
      io.out(
        'each service acknowledges on privacy.erased.<service>; --wait 60s waits for them (erasing again is harmless)',
      );
  }
  if (missing.length)
    throw failed(
      `no acknowledgement within ${values.wait} from: ${missing.join(', ')} (they erase once running)`,
    );
  return 0;
}
