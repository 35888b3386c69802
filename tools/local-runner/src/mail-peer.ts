import http from 'node:http';
import { startSmtpSink, type SmtpSink } from '@kairos/testkit';

export interface MailPeer {
  smtpUrl: string;
  webUrl: string;
  stop(): Promise<void>;
}

/**
 * The SMTP peer delivery sends to locally: accepts every message and lists what it received at
 * `GET /` (JSON: to, subject, trace id, text) so a person can see the mesh's output.
 */
export async function startMailPeer(webPort: number): Promise<MailPeer> {
  const smtp: SmtpSink = await startSmtpSink();
  const server = http.createServer((_req, res) => {
    const mail = smtp.messages
      .slice(-100)
      .reverse()
      .map((m) => ({
        to: m.to,
        subject: m.headers['subject'],
        action_id: m.headers['x-kairos-action-id'],
        trace_id: m.headers['x-kairos-trace-id'],
        date: m.headers['date'],
      }));
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ received: smtp.messages.length, mail }, null, 2));
  });
  await new Promise<void>((resolve) => server.listen(webPort, '127.0.0.1', () => resolve()));
  return {
    smtpUrl: smtp.url,
    webUrl: `http://127.0.0.1:${(server.address() as { port: number }).port}/`,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await smtp.close();
    },
  };
}
