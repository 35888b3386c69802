import { join } from 'node:path';

/** The proto/ folder at the repository root (used for server reflection). */
export const PROTO_DIR = join(__dirname, '..', '..', '..', '..', 'proto');

export const PROTO_FILES = [
  'kairos/events/v1/events.proto',
  'kairos/profiles/v1/profiles.proto',
  'kairos/ingest/v1/ingest.proto',
  'kairos/triggers/v1/triggers.proto',
  'kairos/actions/v1/actions.proto',
  'grpc/health/v1/health.proto',
];
