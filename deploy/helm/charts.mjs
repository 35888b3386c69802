// The facts of each Kairos service chart and the JSON schema of the charts' values, in one place.
// `node deploy/helm/charts.mjs` writes every chart's values.schema.json; tools/deploy's tests fail
// when a checked-in schema differs from what this file produces.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Services: ports, whether they own partitions (StatefulSet), and the traffic they need. */
export const SERVICES = {
  ingest: {
    description: 'gRPC IngestService and signed webhooks into JetStream',
    grpcPort: 50051,
    httpPort: 8081,
    partitioned: false,
    usesMongo: false,
    // Event producers (gRPC) and webhook senders (HTTP) reach it from outside the mesh.
    publicPorts: [50051, 8081],
    callers: [],
    peers: {},
    egressPorts: [],
    replicas: 2,
  },
  enrichment: {
    description: 'customer profiles, enrichment, time-based events; ProfileService over gRPC',
    grpcPort: 50052,
    httpPort: 8082,
    partitioned: true,
    usesMongo: true,
    publicPorts: [],
    callers: ['orchestration', 'delivery'],
    peers: {},
    egressPorts: [],
    replicas: 2,
  },
  'pattern-detection': {
    description: 'the pattern engine per partition; Simulate and Explain over gRPC',
    grpcPort: 50053,
    httpPort: 8083,
    partitioned: true,
    usesMongo: false,
    publicPorts: [],
    callers: [],
    peers: {},
    egressPorts: [],
    replicas: 2,
  },
  orchestration: {
    description: 'workflow runs from fired triggers; arbitration, timers, holdouts',
    grpcPort: 50054,
    httpPort: 8084,
    partitioned: true,
    usesMongo: true,
    publicPorts: [],
    callers: [],
    peers: { enrichment: 50052, prediction: 50057 },
    egressPorts: [],
    replicas: 2,
  },
  delivery: {
    description: 'channel adapters, fallback, rate limits, tracking and the inbox',
    grpcPort: 50055,
    httpPort: 8085,
    partitioned: false,
    usesMongo: true,
    // Click/open tracking and provider callbacks arrive on HTTP.
    publicPorts: [8085],
    callers: [],
    peers: { enrichment: 50052 },
    // SMTP (25, submission 587, SMTPS 465) and HTTPS providers (SMS, push, webhooks, Slack).
    egressPorts: [25, 465, 587, 443],
    replicas: 2,
  },
  prediction: {
    description: 'churn and purchase scores per partition on event time; predicted events; PredictionService',
    grpcPort: 50057,
    httpPort: 8087,
    partitioned: true,
    usesMongo: true,
    publicPorts: [],
    // Orchestration asks BestSendTime for `wait: {until: best_time}`.
    callers: ['orchestration'],
    peers: {},
    egressPorts: [],
    replicas: 2,
  },
  analytics: {
    description: 'volumes, funnels, lift, attribution, ROI and the dashboard; AnalyticsService',
    grpcPort: 50056,
    httpPort: 8086,
    partitioned: false,
    usesMongo: true,
    // The dashboard (HTTP) is for people outside the mesh.
    publicPorts: [8086],
    callers: [],
    peers: {},
    egressPorts: [],
    // Every aggregate lives in one process: one pod, replaced (not surged) on upgrade.
    singleton: true,
    replicas: 1,
  },
};

const str = (description, extra = {}) => ({ type: 'string', description, ...extra });
const int = (description, minimum, maximum) => ({ type: 'integer', description, minimum, maximum });
const bool = (description) => ({ type: 'boolean', description });
const obj = (description, properties, extra = {}) => ({
  type: 'object',
  description,
  additionalProperties: false,
  properties,
  ...extra,
});
const freeObject = (description) => ({ type: 'object', description });
const list = (description, items = {}) => ({ type: 'array', description, items });
const quantity = { anyOf: [{ type: 'string' }, { type: 'number' }] };

export const globalSchema = obj('Settings shared by every Kairos chart (the umbrella passes them down).', {
  imageRegistry: str('Registry host prefixed to every image repository ("" = as written).'),
  meshRelease: str(
    'A service chart installed as its own release: the umbrella release it joins (its dev NATS, FerretDB and peers are named after it). Empty: this release.',
  ),
  imagePullSecrets: list('Pull secrets of every pod.', obj('A Secret name.', { name: str('Secret name.') })),
  partitions: int('KAIROS_PARTITIONS: partitions of the event subjects; the same in every service.', 1, 1024),
  streamReplicas: int(
    'KAIROS_STREAM_REPLICAS: replicas of each JetStream stream (3 on a NATS cluster).',
    1,
    5,
  ),
  logLevel: {
    type: 'string',
    description: 'LOG_LEVEL of every service.',
    enum: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
  },
  nats: obj(
    'NATS with JetStream (server >= 2.14: partition owners reset their consumers with $JS.API.CONSUMER.RESET).',
    {
      url: str(
        'NATS_URL, e.g. nats://nats.nats:4222, without credentials. Empty: the dev NATS of this release (dev.enabled).',
      ),
      port: int('NATS client port (NetworkPolicy egress).', 1, 65535),
      existingSecret: str(
        'Secret holding NATS_URL; replaces url. The URL carries no credentials (see auth).',
      ),
      urlKey: str('Key of the URL in existingSecret.'),
      auth: obj(
        'One NATS user per service (NATS_USER = the service name), its password a file from a Secret; the provisioning Job connects as the admin user `provision`.',
        {
          enabled: bool('Connect with the users and passwords of existingSecret.'),
          existingSecret: str(
            'Secret with one key per user (provision and each service name) holding its password; a service may name its own (<service>.nats). Empty with dev.enabled: <release>-nats-users, made by the chart.',
          ),
        },
      ),
      tls: obj('TLS to NATS.', {
        existingSecret: str(
          'Secret with ca.crt (and tls.crt, tls.key for clientCertificate), mounted as NATS_TLS_* files. Empty: no TLS.',
        ),
        clientCertificate: bool('Also present tls.crt and tls.key (servers that verify clients).'),
      }),
    },
  ),
  mongo: obj('A MongoDB-compatible database.', {
    url: str('MONGO_URL. Empty: the dev FerretDB of this release (dev.enabled). Prefer existingSecret.'),
    port: int('Database port (NetworkPolicy egress).', 1, 65535),
    existingSecret: str('Secret holding the MongoDB URI; replaces url.'),
    uriKey: str('Key of the URI in existingSecret.'),
  }),
  provision: {
    type: 'string',
    description:
      'KAIROS_PROVISION of every service: external (the provisioning Job creates streams, consumers, buckets and indexes; services only bind to them, so their users need no admin rights) or self.',
    enum: ['external', 'self'],
  },
  otlp: obj('OpenTelemetry traces.', {
    endpoint: str('OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/HTTP). Empty: tracing off.'),
    port: int('Collector port (NetworkPolicy egress).', 1, 65535),
  }),
  security: obj('Credentials and TLS of the gRPC and HTTP APIs (docs/security.md).', {
    adminToken: obj('The admin bearer token (definitions, simulate, explain, profiles, reports, scores).', {
      existingSecret: str(
        'Secret holding the admin token(s), one a line; required unless dev.enabled (the umbrella then makes <release>-dev-credentials).',
      ),
      key: str('Key of the token file in existingSecret.'),
    }),
    serviceToken: obj('The service token of internal calls (profile lookups, best send time).', {
      existingSecret: str('Secret holding the service token(s); required unless dev.enabled.'),
      key: str('Key of the token file in existingSecret.'),
    }),
    adminIdentities: list('KAIROS_ADMIN_IDENTITIES: mTLS client certificate names acting as admin.', {
      type: 'string',
    }),
    serviceIdentities: list('KAIROS_SERVICE_IDENTITIES: mTLS client certificate names acting as a service.', {
      type: 'string',
    }),
    tls: obj('TLS of every gRPC and HTTP server and of the calls between services.', {
      enabled: bool(
        "Serve TLS with each service's tlsSecret (tls.crt, tls.key, ca.crt; its names must include the Service's DNS name).",
      ),
      clientAuth: bool('KAIROS_TLS_CLIENT_AUTH: gRPC clients must present a certificate of ca.crt (mTLS).'),
      httpClientAuth: bool(
        'KAIROS_HTTP_TLS_CLIENT_AUTH: HTTP clients too (webhooks, tracking links and probes then need one; probes become TCP checks).',
      ),
    }),
  }),
});

export function serviceSchema(name) {
  const s = SERVICES[name];
  return obj(`Values of the ${name} chart (${s.description}).`, {
    enabled: bool('Umbrella only: install this service.'),
    global: globalSchema,
    'kairos-lib': freeObject('The library chart (Helm adds its key; it takes no values).'),
    image: obj('Container image.', {
      repository: str('Repository, without tag.'),
      tag: str('Tag; empty: the chart appVersion.'),
      pullPolicy: {
        type: 'string',
        description: 'imagePullPolicy.',
        enum: ['Always', 'IfNotPresent', 'Never'],
      },
    }),
    replicas: int(
      s.singleton
        ? 'Pods: 1 (the service keeps its aggregates in one process), or 0 to stop it.'
        : s.partitioned
          ? 'Pods; each owns the partitions p with p % replicas == its ordinal (changing it reassigns them).'
          : 'Pods (ignored while autoscaling.enabled).',
      s.partitioned ? 1 : 0,
      s.singleton ? 1 : 1024,
    ),
    env: {
      type: 'object',
      description:
        'Extra settings as environment variables (see the service README); secrets go in existingSecret.',
      additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
    },
    existingSecret: str(
      'Secret whose keys become environment variables (API keys, provider tokens, signing secrets).',
    ),
    nats: obj("This service's NATS password (with global.nats.auth.enabled).", {
      existingSecret: str('Secret holding it; empty: global.nats.auth.existingSecret.'),
      passwordKey: str(`Key of the password in that Secret; empty: the service name (${name}).`),
    }),
    tlsSecret: str(
      'TLS Secret of this service (tls.crt, tls.key, ca.crt) when global.security.tls.enabled; empty: <fullname>-tls.',
    ),
    secretMount: obj(
      'A Secret mounted as files (e.g. the file KAIROS_INGEST_CONFIG or KAIROS_ENRICHMENT_CONFIG names).',
      {
        name: str('Secret name; empty: nothing mounted.'),
        mountPath: str('Directory of its files.'),
      },
    ),
    resources: obj('Container resources.', {
      requests: obj('Requests.', { cpu: quantity, memory: quantity }),
      limits: obj('Limits.', { cpu: quantity, memory: quantity }),
    }),
    serviceType: {
      type: 'string',
      description: 'Service type.',
      enum: ['ClusterIP', 'NodePort', 'LoadBalancer'],
    },
    terminationGracePeriodSeconds: int(
      'Grace period; the drain timeout (KAIROS_DRAIN_TIMEOUT) is this minus preStopSleepSeconds minus 5 s.',
      10,
      3600,
    ),
    preStopSleepSeconds: int(
      'Seconds a terminating pod keeps serving before its drain starts, while Services drop its endpoint (0: none).',
      0,
      120,
    ),
    probes: obj('Probe timing.', {
      periodSeconds: int('Readiness/liveness period.', 1, 300),
      startupFailureThreshold: int(
        'Start-up checks (2 s apart) before the container is restarted.',
        1,
        10000,
      ),
      livenessFailureThreshold: int('Failed liveness checks before a restart.', 1, 100),
    }),
    serviceAccount: obj('ServiceAccount.', {
      create: bool('Create one for this service.'),
      name: str('Name (default: the service fullname).'),
      annotations: freeObject('Annotations (e.g. workload identity).'),
    }),
    autoscaling: obj('HorizontalPodAutoscaler on CPU (stateless services only).', {
      enabled: bool('Create the HPA.'),
      minReplicas: int('Minimum pods.', 1, 1024),
      maxReplicas: int('Maximum pods.', 1, 1024),
      targetCPUUtilizationPercentage: int('Target CPU utilization.', 1, 100),
    }),
    podDisruptionBudget: obj('PodDisruptionBudget.', {
      enabled: bool('Create the PDB.'),
      maxUnavailable: {
        anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string' }],
        description: 'Pods that may be down at once.',
      },
    }),
    networkPolicy: obj('NetworkPolicy allowing only the traffic the service needs.', {
      enabled: bool('Create the NetworkPolicy.'),
      metricsFrom: list(
        'Peers (NetworkPolicy `from` entries) allowed to scrape /metrics.',
        freeObject('A peer.'),
      ),
      egressPorts: list('TCP ports of outside providers the service may reach.', {
        type: 'integer',
        minimum: 1,
        maximum: 65535,
      }),
      extraIngress: list('Extra ingress rules.', freeObject('A rule.')),
      extraEgress: list('Extra egress rules.', freeObject('A rule.')),
    }),
    topologySpread: obj('Spread pods over nodes and zones.', {
      enabled: bool('Add topology spread constraints.'),
      maxSkew: int('maxSkew.', 1, 100),
      whenUnsatisfiable: {
        type: 'string',
        description: 'Over nodes.',
        enum: ['DoNotSchedule', 'ScheduleAnyway'],
      },
    }),
    serviceMonitor: obj('Prometheus Operator ServiceMonitor of /metrics.', {
      enabled: bool('Create it (needs the Prometheus Operator CRDs).'),
      interval: str('Scrape interval.'),
      labels: freeObject('Labels the Prometheus selects on.'),
    }),
    keda: obj('KEDA ScaledObject on JetStream consumer lag (stateless consumers; needs KEDA).', {
      enabled: bool('Create it (instead of autoscaling).'),
      minReplicas: int('Minimum pods.', 0, 1024),
      maxReplicas: int('Maximum pods.', 1, 1024),
      monitoringEndpoint: str("NATS monitoring host:port (KEDA's natsServerMonitoringEndpoint)."),
      account: str('NATS account.'),
      stream: str('Stream of the consumer.'),
      consumer: str('Durable consumer.'),
      lagThreshold: int('Pending messages per pod.', 1, 10000000),
    }),
    podAnnotations: freeObject('Pod annotations.'),
    nodeSelector: freeObject('Node selector.'),
    tolerations: list('Tolerations.', freeObject('A toleration.')),
    affinity: freeObject('Affinity.'),
  });
}

export const umbrellaSchema = () =>
  obj('Values of the kairos umbrella chart: the whole mesh in one release.', {
    global: globalSchema,
    dev: obj(
      'A single-node NATS with JetStream and FerretDB in the release, for trying Kairos out (not for production).',
      {
        enabled: bool('Install the dev NATS and FerretDB and point the services at them.'),
        nats: obj('Dev NATS.', {
          passwordSeed: str(
            "Seed of the dev users' passwords (the chart derives them from it and the release); set one, or global.nats.auth.existingSecret, when others can reach the dev NATS.",
          ),
          image: obj('Image.', {
            repository: str('Repository.'),
            tag: str('Tag.'),
            pullPolicy: { type: 'string', enum: ['Always', 'IfNotPresent', 'Never'] },
          }),
        }),
        ferretdb: obj('Dev FerretDB (SQLite backend).', {
          image: obj('Image.', {
            repository: str('Repository.'),
            tag: str('Tag.'),
            pullPolicy: { type: 'string', enum: ['Always', 'IfNotPresent', 'Never'] },
          }),
        }),
      },
    ),
    provision: obj(
      'The pre-install/pre-upgrade hook Job that creates or updates the JetStream streams, consumers and KV buckets and the MongoDB indexes (with dev.enabled, a Job that runs next to the services).',
      {
        enabled: bool('Run the hook.'),
        image: obj('Image.', {
          repository: str('Repository.'),
          tag: str('Tag; empty: the chart appVersion.'),
          pullPolicy: { type: 'string', enum: ['Always', 'IfNotPresent', 'Never'] },
        }),
        existingSecret: str(
          "Secret with the admin user's NATS password; empty: global.nats.auth.existingSecret.",
        ),
        passwordKey: str('Key of that password; empty: provision.'),
        env: {
          type: 'object',
          description:
            'Extra settings of the Job, e.g. the KAIROS_DELIVERY_* consumer settings when delivery sets them (the Job creates its consumer).',
          additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }] },
        },
        backoffLimit: int('Retries of the Job.', 0, 100),
      },
    ),
    ...Object.fromEntries(Object.keys(SERVICES).map((n) => [n, serviceSchema(n)])),
  });

function write(path, schema) {
  writeFileSync(
    path,
    `${JSON.stringify({ $schema: 'https://json-schema.org/draft-07/schema#', ...schema }, null, 2)}\n`,
  );
}

export function schemas() {
  const out = { kairos: umbrellaSchema() };
  for (const n of Object.keys(SERVICES)) out[n] = serviceSchema(n);
  return out;
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const dir = new URL('.', import.meta.url).pathname;
  for (const [chart, schema] of Object.entries(schemas()))
    write(join(dir, chart, 'values.schema.json'), schema);
}
