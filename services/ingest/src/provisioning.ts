import type { ServiceProvisioning } from '@kairos/contracts';

/** What ingest needs provisioned (the streams only), and the NATS subjects it uses. */
export const ingestProvisioning: ServiceProvisioning = {
  service: 'ingest',
  consumers: () => [],
  publishes: ['events.raw.>'],
  kv: [],
  scans: [],
  indexes: [],
};
