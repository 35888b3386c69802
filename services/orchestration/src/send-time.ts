import { credentials, type ServiceError } from '@grpc/grpc-js';
import { callUnary, predictions } from '@kairos/contracts';
import type { BestHour } from './domain/timing';
import type { SendTimePort } from './ports';

/**
 * The customer's best hour from PredictionService.BestSendTime, within a deadline. Any replica of
 * prediction answers (another replica's customer gets that replica's population prior), so one
 * address behind a load balancer is enough. A failure rejects: the wait step then does not wait.
 */
export class GrpcSendTime implements SendTimePort {
  private readonly client: predictions.PredictionServiceClient;

  constructor(
    address: string,
    private readonly deadlineMs: number,
  ) {
    this.client = new predictions.PredictionServiceClient(address, credentials.createInsecure());
  }

  async bestHour(customerId: string): Promise<BestHour> {
    try {
      return await callUnary(this.client.bestSendTime.bind(this.client), { customerId }, this.deadlineMs);
    } catch (err) {
      const e = err as ServiceError;
      throw new Error(`prediction: ${e.details || e.message}`);
    }
  }

  close(): void {
    this.client.close();
  }
}

/** Without prediction (`KAIROS_PREDICTION_ADDR=none`): every best-time wait goes on at once. */
export const noSendTime: SendTimePort = {
  bestHour: () => Promise.reject(new Error('prediction is not configured (KAIROS_PREDICTION_ADDR=none)')),
};
