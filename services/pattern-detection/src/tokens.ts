import { token } from '@kairos/service-kit';
import type { DetectionRuntime, PatternServiceSettings } from './pattern-service';

/** DI tokens of this service (common ones are in @kairos/service-kit TOKENS). */
export const PD_TOKENS = {
  Runtime: token<DetectionRuntime>('kairos.pattern-detection.Runtime'),
  Settings: token<PatternServiceSettings>('kairos.pattern-detection.Settings'),
} as const;
