import type { ServiceError } from '@grpc/grpc-js';
import { predictions } from '@kairos/contracts';
import { callMetadata, channelCredentials, type ClientSecurity } from '@kairos/service-kit';
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
    private readonly security: ClientSecurity = {},
  ) {
    this.client = new predictions.PredictionServiceClient(address, channelCredentials(security));
  }

  bestHour(customerId: string): Promise<BestHour> {
    return new Promise((resolve, reject) =>
      this.client.bestSendTime(
        { customerId },
        callMetadata(this.security),
        { deadline: Date.now() + this.deadlineMs },
        (err: ServiceError | null, res) =>
          err ? reject(new Error(`prediction: ${err.details || err.message}`)) : resolve(res),
      ),
    );
  }

  close(): void {
    this.client.close();
  }
}

/** Without prediction (`KAIROS_PREDICTION_ADDR=none`): every best-time wait goes on at once. */
export const noSendTime: SendTimePort = {
  bestHour: () => Promise.reject(new Error('prediction is not configured (KAIROS_PREDICTION_ADDR=none)')),
};
