import type { Mesh } from './mesh';

/**
 * The service log lines and spans of `mesh` that match any of `forbidden`, each named by where it
 * was found (the first 300 characters). Logs and traces must never hold contact points or message
 * bodies; the erasure flow must not log the customer id it erases.
 */
export function leaksIn(mesh: Mesh, forbidden: RegExp[]): { leaks: string[]; scanned: number } {
  const leaks: string[] = [];
  let scanned = 0;
  for (const [name, service] of mesh.services) {
    for (const line of service.process.logs()) {
      scanned++;
      if (forbidden.some((f) => f.test(line))) leaks.push(`${name} log: ${line.slice(0, 300)}`);
    }
  }
  for (const span of mesh.otlp.spans) {
    scanned++;
    const texts = [
      span.name,
      JSON.stringify(span.attributes),
      JSON.stringify(span.events.map((e) => [e.name, e.attributes])),
    ];
    if (texts.some((t) => forbidden.some((f) => f.test(t)))) {
      leaks.push(`${span.serviceName} span ${span.name}: ${texts.join(' ').slice(0, 300)}`);
    }
  }
  return { leaks, scanned };
}
