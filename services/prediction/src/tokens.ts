import { token } from '@kairos/service-kit';
import type { PredictionRuntime } from './prediction-service';

/** DI tokens of this service (common ones are in @kairos/service-kit TOKENS). */
export const PREDICTION_TOKENS = {
  Runtime: token<PredictionRuntime>('kairos.prediction.Runtime'),
} as const;
