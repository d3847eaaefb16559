/**
 * Every Capstan setting, declared once: YAML key (snake_case, dotted by section), environment
 * variable, type, default (units in the name or doc) and a one-line doc. docs/configuration.md is
 * generated from this list and a test keeps it in step.
 */
export const SETTING_TYPES = ['string', 'int', 'bool', 'enum'] as const;
export type SettingType = (typeof SETTING_TYPES)[number];

export interface SettingSpec {
  type: SettingType;
  default: string | number | boolean;
  doc: string;
  env: string;
  /** Values are masked by `capstan config --print` and never logged. */
  secret?: boolean;
  values?: readonly string[];
  min?: number;
  max?: number;
}

const spec = <T extends SettingSpec>(s: T): T => s;

export const SETTINGS = {
  'server.host': spec({ type: 'string', default: '127.0.0.1', env: 'CAPSTAN_SERVER_HOST', doc: 'Interface the HTTP server binds to (flag --host).' }),
  'server.port': spec({ type: 'int', default: 5050, min: 0, max: 65535, env: 'CAPSTAN_SERVER_PORT', doc: 'TCP port of the HTTP server; 0 picks a free port (flag --port).' }),
  'server.max_body_bytes': spec({ type: 'int', default: 16 * 1024 * 1024, min: 1024, env: 'CAPSTAN_SERVER_MAX_BODY_BYTES', doc: 'Largest JSON request body accepted, in bytes; larger bodies get 413 PAYLOAD_TOO_LARGE. Artifact uploads stream and are not limited by it.' }),
  'server.trust_proxy': spec({ type: 'bool', default: false, env: 'CAPSTAN_SERVER_TRUST_PROXY', doc: 'Believe X-Forwarded-Proto/Host from a reverse proxy, so URLs Capstan hands out (multipart upload parts) use the public scheme and host.' }),
  'server.shutdown_grace_ms': spec({ type: 'int', default: 10000, min: 0, env: 'CAPSTAN_SERVER_SHUTDOWN_GRACE_MS', doc: 'How long in-flight requests may finish after SIGTERM before the process exits, in milliseconds.' }),
  'data_dir': spec({ type: 'string', default: './.capstan', env: 'CAPSTAN_DATA_DIR', doc: 'Directory for the embedded SQLite database and local artifacts (flag --data).' }),
  'store.database_uri': spec({ type: 'string', default: '', env: 'CAPSTAN_STORE_DATABASE_URI', secret: true, doc: 'Metadata database: sqlite:///abs/path.db or postgresql://user:pass@host:5432/db. Empty means sqlite under data_dir.' }),
  'store.pool_size': spec({ type: 'int', default: 10, min: 1, max: 1000, env: 'CAPSTAN_STORE_POOL_SIZE', doc: 'PostgreSQL connections per process.' }),
  'store.artifacts_uri': spec({ type: 'string', default: '', env: 'CAPSTAN_STORE_ARTIFACTS_URI', doc: 'Blob store for artifacts: file:///abs/dir or s3://bucket/prefix. Empty means data_dir/artifacts.' }),
  's3.endpoint': spec({ type: 'string', default: '', env: 'CAPSTAN_S3_ENDPOINT', doc: 'S3 endpoint URL for S3-compatible stores (MinIO, Ceph); empty means AWS.' }),
  's3.region': spec({ type: 'string', default: 'us-east-1', env: 'CAPSTAN_S3_REGION', doc: 'S3 region.' }),
  's3.force_path_style': spec({ type: 'bool', default: false, env: 'CAPSTAN_S3_FORCE_PATH_STYLE', doc: 'Address buckets as endpoint/bucket instead of bucket.endpoint (needed by most S3-compatible stores).' }),
  's3.access_key_id': spec({ type: 'string', default: '', env: 'CAPSTAN_S3_ACCESS_KEY_ID', secret: true, doc: 'S3 access key; empty uses the AWS SDK default credential chain.' }),
  's3.secret_access_key': spec({ type: 'string', default: '', env: 'CAPSTAN_S3_SECRET_ACCESS_KEY', secret: true, doc: 'S3 secret key; empty uses the AWS SDK default credential chain.' }),
  'log.level': spec({ type: 'enum', default: 'info', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], env: 'CAPSTAN_LOG_LEVEL', doc: 'Minimum level of the JSON log written to stdout.' }),
  'telemetry.traces': spec({ type: 'enum', default: 'off', values: ['off', 'console', 'otlp'], env: 'CAPSTAN_TELEMETRY_TRACES', doc: 'OpenTelemetry span exporter for HTTP requests and store calls.' }),
  'telemetry.otlp_endpoint': spec({ type: 'string', default: 'http://127.0.0.1:4318/v1/traces', env: 'CAPSTAN_TELEMETRY_OTLP_ENDPOINT', doc: 'OTLP/HTTP traces endpoint used when telemetry.traces is otlp.' }),
  'tracking.truncate_long_values': spec({ type: 'bool', default: true, env: 'CAPSTAN_TRACKING_TRUNCATE_LONG_VALUES', doc: 'Truncate over-long param (6000) and tag (5000) values as MLflow does, instead of rejecting them.' }),
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;
type ValueOf<S extends SettingSpec> = S['type'] extends 'int' ? number : S['type'] extends 'bool' ? boolean : string;
export type Config = { readonly [K in SettingKey]: ValueOf<(typeof SETTINGS)[K]> };
