import { startMongo, startNats, type MongoServer, type NatsServer } from '@kairos/testkit';

/** Infrastructure shared by the suites of one run: started once, on demand. */
export class BenchInfra {
  private nats?: Promise<NatsServer>;
  private mongo?: Promise<MongoServer>;

  natsServer(): Promise<NatsServer> {
    this.nats ??= startNats();
    return this.nats;
  }

  mongoServer(): Promise<MongoServer> {
    this.mongo ??= startMongo();
    return this.mongo;
  }

  async dispose(): Promise<void> {
    await Promise.allSettled([this.nats?.then((n) => n.dispose()), this.mongo?.then((m) => m.stop())]);
  }
}
