/** DI tokens of this service (common ones are in @kairos/service-kit TOKENS). */
export const PD_TOKENS = {
  Runtime: Symbol.for('kairos.pattern-detection.Runtime'),
  Settings: Symbol.for('kairos.pattern-detection.Settings'),
} as const;
