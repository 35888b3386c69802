import type { profiles } from '@kairos/contracts';
import { connectPublisher, type NatsConnection, type Publisher } from '@kairos/messaging';
import { useMongo, useNats, type MongoFixture, type NatsFixture } from '@kairos/testkit';
import { FakeProfileService } from './fake-profiles';

/** What a profile needs beyond its defaults; `contacts` fields replace the default ones one by one. */
export type CustomerProfile = Omit<Partial<profiles.Profile>, 'customerId' | 'contacts'> & {
  contacts?: Partial<profiles.ContactPoints>;
};

/** The peers of an orchestration service under test: servers, a NATS client, a fake ProfileService. */
export interface OrchestrationPeers {
  /** The suite's NATS server and database (fixtures of testkit). */
  nats: NatsFixture;
  mongo: MongoFixture;
  /** A client on the suite's NATS server, its streams provisioned (set by the before hook). */
  nc: NatsConnection;
  publisher: Publisher;
  profileService: FakeProfileService;
  /**
   * Adds a profile for a new customer `<name>-<random>` (consent to everything, an email address
   * `<id>@example.test`, then `profile`) and returns its id.
   */
  customer(name: string, profile?: CustomerProfile): string;
}

/**
 * Registers the hooks that start the peers before the suite (NATS, a database named after
 * `dbPrefix`, the ProfileService, a client named `clientName`) and stop them after it: `stopFirst`
 * (the service under test) first, then the client, the ProfileService, and last the servers.
 */
export function useOrchestrationPeers(
  dbPrefix: string,
  clientName: string,
  stopFirst?: () => Promise<void>,
): OrchestrationPeers {
  const profileService = new FakeProfileService();
  // Registered before the servers' hooks, so it runs while they are still up.
  after(async () => {
    await stopFirst?.();
    await peers.nc?.drain();
    await profileService.stop();
  });
  const nats = useNats();
  const mongo = useMongo({ dbPrefix });
  const peers: OrchestrationPeers = {
    nats,
    mongo,
    nc: undefined as unknown as NatsConnection,
    publisher: undefined as unknown as Publisher,
    profileService,
    customer(name, { contacts, ...profile } = {}) {
      const customerId = `${name}-${Math.random().toString(36).slice(2, 8)}`;
      profileService.addProfile({
        customerId,
        consent: { marketing: true, transactional: true },
        ...profile,
        contacts: {
          email: `${customerId}@example.test`,
          phone: '',
          pushTokens: [],
          webhookUrl: '',
          ...contacts,
        },
      });
      return customerId;
    },
  };

  before(async () => {
    await profileService.start();
    ({ nc: peers.nc, publisher: peers.publisher } = await connectPublisher(nats.url, clientName));
  });

  return peers;
}
