// Writes kubeconform's JSON schemas (standalone, strict) for the kinds the charts render, from the
// OpenAPI document in the Kubernetes module source (api/openapi-spec/swagger.json), so chart
// validation needs no download of prebuilt schemas. Strict: every object with declared properties
// refuses unknown fields, which is what `kubectl apply --validate=strict` does and Helm does not.
// Usage: node scripts/kube-schemas.mjs <swagger.json> <out-dir>
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The kinds the charts may render; any other kind fails validation as "missing schema". */
const KINDS = [
  ['', 'v1', 'ConfigMap'],
  ['', 'v1', 'Secret'],
  ['', 'v1', 'Service'],
  ['', 'v1', 'ServiceAccount'],
  ['apps', 'v1', 'Deployment'],
  ['apps', 'v1', 'StatefulSet'],
  ['batch', 'v1', 'Job'],
  ['autoscaling', 'v2', 'HorizontalPodAutoscaler'],
  ['policy', 'v1', 'PodDisruptionBudget'],
  ['networking.k8s.io', 'v1', 'NetworkPolicy'],
];

const [swaggerPath, outDir] = process.argv.slice(2);
if (!swaggerPath || !outDir) {
  console.error('usage: node scripts/kube-schemas.mjs <swagger.json> <out-dir>');
  process.exit(2);
}
const { definitions } = JSON.parse(readFileSync(swaggerPath, 'utf8'));

const INT_OR_STRING = { oneOf: [{ type: 'string' }, { type: 'integer' }] };
const QUANTITY = { oneOf: [{ type: 'string' }, { type: 'number' }] };

/** Inlines every $ref (a cycle becomes `{}`), and closes objects with properties. */
function expand(schema, seen) {
  if (Array.isArray(schema)) return schema.map((s) => expand(s, seen));
  if (!schema || typeof schema !== 'object') return schema;
  if (schema.$ref) {
    const name = schema.$ref.replace('#/definitions/', '');
    if (name === 'io.k8s.apimachinery.pkg.util.intstr.IntOrString') return INT_OR_STRING;
    if (name === 'io.k8s.apimachinery.pkg.api.resource.Quantity') return QUANTITY;
    if (seen.has(name)) return {};
    return expand(definitions[name], new Set([...seen, name]));
  }
  if (schema.format === 'int-or-string') return INT_OR_STRING;
  const out = {};
  for (const [k, v] of Object.entries(schema)) {
    if (k.startsWith('x-kubernetes-') || k === 'format') continue;
    out[k] =
      k === 'properties'
        ? Object.fromEntries(Object.entries(v).map(([p, s]) => [p, expand(s, seen)]))
        : expand(v, seen);
  }
  if (out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

mkdirSync(outDir, { recursive: true });
for (const [group, version, kind] of KINDS) {
  const entry = Object.entries(definitions).find(([, d]) =>
    (d['x-kubernetes-group-version-kind'] ?? []).some(
      (g) => g.group === group && g.version === version && g.kind === kind,
    ),
  );
  if (!entry) throw new Error(`no definition of ${group}/${version} ${kind} in ${swaggerPath}`);
  const schema = expand(entry[1], new Set([entry[0]]));
  schema.properties.apiVersion = { type: 'string', enum: [group ? `${group}/${version}` : version] };
  schema.properties.kind = { type: 'string', enum: [kind] };
  // kubeconform's file naming: <kind>[-<first label of the group>]-<version>.json
  const suffix = group ? `-${group.split('.')[0]}-${version}` : `-${version}`;
  writeFileSync(join(outDir, `${kind.toLowerCase()}${suffix}.json`), JSON.stringify(schema));
}
console.log(`kube-schemas: ${KINDS.length} schemas in ${outDir}`);
