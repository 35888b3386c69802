import type { profiles } from '@kairos/contracts';
import { connectPublisher, type NatsConnection, type Publisher } from '@kairos/messaging';
import { FakeProfileService } from './fake-profiles';

/** What a profile needs beyond its defaults; `contacts` fields replace the default ones one by one. */
export type CustomerProfile = Omit<Partial<profiles.Profile>, 'customerId' | 'contacts'> & {
  contacts?: Partial<profiles.ContactPoints>;
};

/** The peers of an orchestration service under test: a NATS client and a fake ProfileService. */
export interface OrchestrationPeers {
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
 * Registers the hooks that start the peers before the suite and stop them after it: `stopFirst`
 * (the service under test) first, then the NATS client, then the ProfileService.
 */
export function useOrchestrationPeers(
  nats: { url: string },
  clientName: string,
  stopFirst?: () => Promise<void>,
): OrchestrationPeers {
  const profileService = new FakeProfileService();
  const peers: OrchestrationPeers = {
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

  after(async () => {
    await stopFirst?.();
    await peers.nc?.drain();
    await profileService.stop();
  });

  return peers;
}
