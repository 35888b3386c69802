import { tokens } from '@kairos/service-kit';
import type { PredictionRuntime } from './prediction-service';

/** DI tokens of this service (common ones are in @kairos/service-kit TOKENS). */
export const PREDICTION_TOKENS = tokens<{
  Runtime: PredictionRuntime;
}>('kairos.prediction');
