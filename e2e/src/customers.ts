import { credentials, Metadata } from '@grpc/grpc-js';
import { profiles } from '@kairos/contracts';
import { adminMetadata } from '@kairos/testkit';
import type { Mesh } from './mesh';

/** A unary gRPC call as a promise. */
export function unary<Req, Res>(
  fn: (req: Req, md: Metadata, cb: (err: Error | null, res: Res) => void) => unknown,
  req: Req,
  md = new Metadata(),
): Promise<Res> {
  return new Promise((resolve, reject) => fn(req, md, (err, res) => (err ? reject(err) : resolve(res))));
}

/**
 * A customer with marketing consent, a name and an email address, stored through ProfileService
 * as the test admin.
 */
export async function newCustomer(
  mesh: Mesh,
  prefix: string,
  name: string,
): Promise<{ customerId: string; email: string }> {
  const customerId = `${prefix}-${Date.now()}`;
  const email = `${customerId}@example.test`;
  const profileClient = new profiles.ProfileServiceClient(
    `127.0.0.1:${mesh.services.get('enrichment')!.grpcPort}`,
    credentials.createInsecure(),
  );
  try {
    await unary(
      profileClient.upsert.bind(profileClient),
      {
        customerId,
        traits: { name },
        consent: { marketing: true, transactional: true },
        contacts: { email, phone: '', pushTokens: [], webhookUrl: '' },
        timeZone: 'UTC',
        dates: {},
      },
      adminMetadata(),
    );
  } finally {
    profileClient.close();
  }
  return { customerId, email };
}
