import { credentials, Metadata, type ChannelCredentials } from '@grpc/grpc-js';
import type { DeadlineClientChannel } from '@kairos/contracts';
import type { ClientSecurity } from './security';

/** The channel credentials of a caller: TLS with its CA (and its certificate for mTLS), else plaintext. */
export function channelCredentials(security: ClientSecurity): ChannelCredentials {
  const tls = security.tls;
  if (!tls) return credentials.createInsecure();
  return credentials.createSsl(tls.ca, tls.key ?? null, tls.cert ?? null);
}

/**
 * Metadata carrying the caller's bearer token, when it has one. It goes on each call: grpc-js
 * attaches call credentials only to TLS channels, and the token must also travel in plaintext
 * development meshes.
 */
export function callMetadata(security: Pick<ClientSecurity, 'token'>): Metadata {
  const md = new Metadata();
  if (security.token) md.set('authorization', `Bearer ${security.token}`);
  return md;
}

/** How a DeadlineClient of a caller with `security` reaches its peer: its TLS and its bearer token. */
export function securedChannel(security: ClientSecurity): DeadlineClientChannel {
  return { credentials: channelCredentials(security), metadata: () => callMetadata(security) };
}
