import { token } from '@kairos/service-kit';
import type { Authenticator } from './domain/auth';
import type { Classifier } from './domain/classification';
import type { Ingestor, IngestSettings } from './ingestor';
import type { Prioritizer } from './domain/prioritization';

/** DI tokens of the ingest service's own modules (common ones are service-kit TOKENS). */
export const INGEST_TOKENS = {
  Settings: token<IngestSettings>('kairos.ingest.Settings'),
  Classifier: token<Classifier>('kairos.ingest.Classifier'),
  Prioritizer: token<Prioritizer>('kairos.ingest.Prioritizer'),
  Authenticator: token<Authenticator>('kairos.ingest.Authenticator'),
  Ingestor: token<Ingestor>('kairos.ingest.Ingestor'),
} as const;
