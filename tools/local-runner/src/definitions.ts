import { formatErrors, loadDefinitionsFromPath, openNatsDefinitionStore } from '@kairos/definitions';
import { connectNats, silentLogger } from '@kairos/messaging';

/** Applies the sample triggers and workflows to the definition store the services watch. */
export async function applySampleDefinitions(natsUrl: string, dir: string): Promise<string[]> {
  const loaded = await loadDefinitionsFromPath(dir);
  if (loaded.errors.length)
    throw new Error(`sample definitions are invalid:\n${formatErrors(loaded.errors)}`);
  const nc = await connectNats({ servers: natsUrl, name: 'local-runner', logger: silentLogger });
  try {
    const store = await openNatsDefinitionStore(nc);
    const results = await store.apply(loaded.documents);
    return results.map((r) => `${r.kind}/${r.name} v${r.version} (${r.action})`);
  } finally {
    await nc.close();
  }
}
