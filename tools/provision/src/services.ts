import type { ServiceProvisioning } from '@kairos/contracts';
import { analyticsProvisioning } from '@kairos/analytics';
import { deliveryProvisioning } from '@kairos/delivery';
import { enrichmentProvisioning } from '@kairos/enrichment';
import { ingestProvisioning } from '@kairos/ingest';
import { orchestrationProvisioning } from '@kairos/orchestration';
import { patternDetectionProvisioning } from '@kairos/pattern-detection';
import { predictionProvisioning } from '@kairos/prediction';

/** Every service's provisioning declaration (each lives in `services/<name>/src/provisioning.ts`). */
export const SERVICE_PROVISIONING: readonly ServiceProvisioning[] = [
  ingestProvisioning,
  enrichmentProvisioning,
  patternDetectionProvisioning,
  orchestrationProvisioning,
  deliveryProvisioning,
  predictionProvisioning,
  analyticsProvisioning,
];

/** The declaration of one service, or an error naming the known ones. */
export function provisioningOf(service: string): ServiceProvisioning {
  const found = SERVICE_PROVISIONING.find((s) => s.service === service);
  if (!found)
    throw new Error(
      `unknown service '${service}' (known: ${SERVICE_PROVISIONING.map((s) => s.service).join(', ')})`,
    );
  return found;
}
