/** DI tokens of the ingest service's own modules (common ones are service-kit TOKENS). */
export const INGEST_TOKENS = {
  Settings: Symbol.for('kairos.ingest.Settings'),
  Classifier: Symbol.for('kairos.ingest.Classifier'),
  Prioritizer: Symbol.for('kairos.ingest.Prioritizer'),
  Authenticator: Symbol.for('kairos.ingest.Authenticator'),
  Ingestor: Symbol.for('kairos.ingest.Ingestor'),
  WebhookSources: Symbol.for('kairos.ingest.WebhookSources'),
} as const;
