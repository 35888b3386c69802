import { tokens } from '@kairos/service-kit';
import type { Authenticator } from './domain/auth';
import type { Classifier } from './domain/classification';
import type { Ingestor, IngestSettings } from './ingestor';
import type { Prioritizer } from './domain/prioritization';

/** DI tokens of the ingest service's own modules (common ones are service-kit TOKENS). */
export const INGEST_TOKENS = tokens<{
  Settings: IngestSettings;
  Classifier: Classifier;
  Prioritizer: Prioritizer;
  Authenticator: Authenticator;
  Ingestor: Ingestor;
}>('kairos.ingest');
