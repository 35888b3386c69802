import { tokens } from '@kairos/service-kit';
import type { DetectionRuntime, PatternServiceSettings } from './pattern-service';

/** DI tokens of this service (common ones are in @kairos/service-kit TOKENS). */
export const PD_TOKENS = tokens<{
  Runtime: DetectionRuntime;
  Settings: PatternServiceSettings;
}>('kairos.pattern-detection');
