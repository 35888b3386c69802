import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The .proto files (request checks and server reflection). A deployed contracts package (`pnpm
 * deploy`, the container images) carries its own copy in `proto/` beside `dist/`, because it no
 * longer sits inside the repository; in the workspace they are the repository root's `proto/`.
 */
const PACKAGED_PROTO_DIR = join(__dirname, '..', '..', 'proto');
export const PROTO_DIR = existsSync(PACKAGED_PROTO_DIR)
  ? PACKAGED_PROTO_DIR
  : join(__dirname, '..', '..', '..', '..', 'proto');

export const PROTO_FILES = [
  'kairos/events/v1/events.proto',
  'kairos/profiles/v1/profiles.proto',
  'kairos/ingest/v1/ingest.proto',
  'kairos/triggers/v1/triggers.proto',
  'kairos/actions/v1/actions.proto',
  'kairos/predictions/v1/predictions.proto',
  'kairos/analytics/v1/analytics.proto',
  'kairos/privacy/v1/privacy.proto',
  'grpc/health/v1/health.proto',
];
