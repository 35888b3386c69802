import type { ServiceError } from '@grpc/grpc-js';
import { DeadlineClient, predictions } from '@kairos/contracts';
import { securedChannel, type ClientSecurity } from '@kairos/service-kit';
import type { BestHour } from './domain/timing';
import type { SendTimePort } from './ports';

/**
 * The customer's best hour from PredictionService.BestSendTime, within a deadline. Any replica of
 * prediction answers (another replica's customer gets that replica's population prior), so one
 * address behind a load balancer is enough. A failure rejects: the wait step then does not wait.
 */
export class GrpcSendTime
  extends DeadlineClient<predictions.PredictionServiceClient>
  implements SendTimePort
{
  constructor(address: string, deadlineMs: number, security: ClientSecurity = {}) {
    super(predictions.PredictionServiceClient, address, deadlineMs, securedChannel(security));
  }

  async bestHour(customerId: string): Promise<BestHour> {
    try {
      return await this.call((c) => c.bestSendTime, { customerId });
    } catch (err) {
      const e = err as ServiceError;
      throw new Error(`prediction: ${e.details || e.message}`);
    }
  }
}

/** Without prediction (`KAIROS_PREDICTION_ADDR=none`): every best-time wait goes on at once. */
export const noSendTime: SendTimePort = {
  bestHour: () => Promise.reject(new Error('prediction is not configured (KAIROS_PREDICTION_ADDR=none)')),
};
