/**
 * Every Capstan setting, declared once: YAML key (snake_case, dotted by section), environment
 * variable, type, default (units in the name or doc) and a one-line doc. docs/configuration.md is
 * generated from this list and a test keeps it in step.
 */
export const SETTING_TYPES = ['string', 'int', 'number', 'bool', 'enum'] as const;
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
  'server.max_header_bytes': spec({ type: 'int', default: 16 * 1024, min: 1024, max: 1024 * 1024, env: 'CAPSTAN_SERVER_MAX_HEADER_BYTES', doc: 'Largest total size of request headers, in bytes; larger requests are refused before routing.' }),
  'server.rate_limit_rps': spec({ type: 'int', default: 300, min: 0, env: 'CAPSTAN_SERVER_RATE_LIMIT_RPS', doc: 'Requests per second each principal (or each client IP before sign-in) may make when auth is on; 0 disables. Per replica.' }),
  'server.rate_limit_burst': spec({ type: 'int', default: 600, min: 1, env: 'CAPSTAN_SERVER_RATE_LIMIT_BURST', doc: 'Requests a principal may make at once above the steady rate before 429 REQUEST_LIMIT_EXCEEDED.' }),
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
  's3.timeout_ms': spec({ type: 'int', default: 30000, min: 1000, env: 'CAPSTAN_S3_TIMEOUT_MS', doc: 'Longest an S3 request may go without a byte moving (a stalled or unreachable store) before it fails with STORE_UNAVAILABLE; connecting may take at most 10 s of it.' }),
  'auth.mode': spec({ type: 'enum', default: 'off', values: ['off', 'on'], env: 'CAPSTAN_AUTH_MODE', doc: 'off: every request acts as the local admin, allowed only when server.host is a loopback address. on: every non-public route needs a token, password or OIDC JWT.' }),
  'auth.bootstrap_owner': spec({ type: 'string', default: '', env: 'CAPSTAN_AUTH_BOOTSTRAP_OWNER', doc: 'Name of the first owner account, created at start-up when no owner exists yet (with auth.bootstrap_password).' }),
  'auth.bootstrap_password': spec({ type: 'string', default: '', env: 'CAPSTAN_AUTH_BOOTSTRAP_PASSWORD', secret: true, doc: 'Password of the first owner account (at least 12 characters); ignored once an owner exists. There is no default password.' }),
  'auth.session_ttl_hours': spec({ type: 'int', default: 12, min: 1, max: 24 * 30, env: 'CAPSTAN_AUTH_SESSION_TTL_HOURS', doc: 'Lifetime of the session tokens `capstan login` obtains.' }),
  'auth.cache_ms': spec({ type: 'int', default: 1000, min: 0, max: 60000, env: 'CAPSTAN_AUTH_CACHE_MS', doc: 'How long a verified credential is reused without a database lookup: the longest a revoked token, disabled account or changed role keeps working, on every replica.' }),
  'auth.lockout_threshold': spec({ type: 'int', default: 5, min: 1, env: 'CAPSTAN_AUTH_LOCKOUT_THRESHOLD', doc: 'Failed password sign-ins before an account locks; each further failure doubles the lock from 1 s.' }),
  'auth.lockout_max_seconds': spec({ type: 'int', default: 900, min: 1, env: 'CAPSTAN_AUTH_LOCKOUT_MAX_SECONDS', doc: 'Longest account lock after repeated failed sign-ins, in seconds.' }),
  'auth.oidc_issuer': spec({ type: 'string', default: '', env: 'CAPSTAN_AUTH_OIDC_ISSUER', doc: "OIDC issuer URL; bearer JWTs from it are accepted. Empty disables OIDC. Its JWKS is found through the issuer's discovery document." }),
  'auth.oidc_audience': spec({ type: 'string', default: 'capstan', env: 'CAPSTAN_AUTH_OIDC_AUDIENCE', doc: 'The aud claim OIDC tokens must carry.' }),
  'auth.oidc_jwks_uri': spec({ type: 'string', default: '', env: 'CAPSTAN_AUTH_OIDC_JWKS_URI', doc: 'JWKS URL, when the issuer has no discovery document.' }),
  'auth.oidc_client_id': spec({ type: 'string', default: '', env: 'CAPSTAN_AUTH_OIDC_CLIENT_ID', doc: "Client id of the web UI at the OIDC provider; set, the sign-in page offers single sign-on (authorization code with PKCE, redirect URI https://HOST/ui/oidc/callback). Empty: password sign-in only." }),
  'auth.oidc_client_secret': spec({ type: 'string', default: '', env: 'CAPSTAN_AUTH_OIDC_CLIENT_SECRET', secret: true, doc: 'Secret of that client when the provider treats it as confidential; the server exchanges the code, so it never reaches the browser.' }),
  'auth.oidc_scopes': spec({ type: 'string', default: 'openid profile email', env: 'CAPSTAN_AUTH_OIDC_SCOPES', doc: 'Scopes the sign-in asks for (space-separated); add the one that puts groups in the token if the provider needs it.' }),
  'auth.oidc_username_claim': spec({ type: 'string', default: 'preferred_username', env: 'CAPSTAN_AUTH_OIDC_USERNAME_CLAIM', doc: "Claim naming the account (falls back to 'sub')." }),
  'auth.oidc_groups_claim': spec({ type: 'string', default: 'groups', env: 'CAPSTAN_AUTH_OIDC_GROUPS_CLAIM', doc: 'Claim listing the identity\'s groups (a dotted path such as realm_access.roles works).' }),
  'auth.oidc_group_roles': spec({ type: 'string', default: '', env: 'CAPSTAN_AUTH_OIDC_GROUP_ROLES', doc: "Groups to roles: 'group=project:role' entries, comma-separated; project '*' is every project, 'group=owner' makes owners." }),
  'secrets.key': spec({ type: 'string', default: '', env: 'CAPSTAN_SECRETS_KEY', secret: true, doc: "Key ring sealing stored secrets: 'id:base64-32-bytes', comma-separated, the first encrypts (rotation: put the new key first, run `capstan secrets rotate`). `capstan secrets keygen` makes one." }),
  'secrets.key_file': spec({ type: 'string', default: '', env: 'CAPSTAN_SECRETS_KEY_FILE', doc: 'File holding the key ring instead of secrets.key. With neither and an embedded SQLite database, data_dir/secrets.key is created (mode 0600).' }),
  'registry.signing_key': spec({ type: 'string', default: '', env: 'CAPSTAN_REGISTRY_SIGNING_KEY', secret: true, doc: 'Ed25519 private key (PKCS#8 PEM; \\n escapes allowed) that signs model manifests. Every replica should share one.' }),
  'registry.signing_key_file': spec({ type: 'string', default: '', env: 'CAPSTAN_REGISTRY_SIGNING_KEY_FILE', doc: 'File holding the signing key instead of registry.signing_key. With neither, data_dir/registry-signing.pem is created at first start (mode 0600).' }),
  'redis.url': spec({ type: 'string', default: '', env: 'CAPSTAN_REDIS_URL', secret: true, doc: 'Redis for state shared by replicas (serving rate limits): redis://[:password@]host:6379[/db]. Empty keeps that state in each process.' }),
  'serving.workers': spec({ type: 'int', default: 0, min: 0, max: 256, env: 'CAPSTAN_SERVING_WORKERS', doc: "Inference threads; each holds a session of every served model. 0 means one per CPU core less the HTTP thread's, at least 1." }),
  'serving.intra_op_threads': spec({ type: 'int', default: 1, min: 1, max: 256, env: 'CAPSTAN_SERVING_INTRA_OP_THREADS', doc: "onnxruntime threads per inference (intra-op parallelism). Keep 1 unless models are large: batching and serving.workers parallelise better." }),
  'serving.execution_providers': spec({ type: 'string', default: 'cpu', env: 'CAPSTAN_SERVING_EXECUTION_PROVIDERS', doc: "onnxruntime execution providers in order of preference, comma-separated: cpu, or cuda,cpu on a GPU machine with onnxruntime's CUDA libraries installed." }),
  'serving.max_request_bytes': spec({ type: 'int', default: 64 * 1024 * 1024, min: 1024, env: 'CAPSTAN_SERVING_MAX_REQUEST_BYTES', doc: 'Largest inference request body (JSON or binary tensors), in bytes; larger ones get 413 PAYLOAD_TOO_LARGE.' }),
  'serving.max_elements': spec({ type: 'int', default: 16 * 1024 * 1024, min: 1, env: 'CAPSTAN_SERVING_MAX_ELEMENTS', doc: 'Most tensor elements one inference request may decode to (all inputs together); guards memory against small bodies that expand.' }),
  'serving.poll_ms': spec({ type: 'int', default: 1000, min: 50, max: 60000, env: 'CAPSTAN_SERVING_POLL_MS', doc: 'How often each replica checks the database for deployment changes made elsewhere, in milliseconds.' }),
  'serving.canary_tick_ms': spec({ type: 'int', default: 1000, min: 50, max: 60000, env: 'CAPSTAN_SERVING_CANARY_TICK_MS', doc: 'How often rollouts are analysed (and stepped or rolled back), in milliseconds.' }),
  'serving.breaker_failures': spec({ type: 'int', default: 5, min: 1, env: 'CAPSTAN_SERVING_BREAKER_FAILURES', doc: "Consecutive model failures (runtime errors, timeouts) that open a model version's circuit breaker." }),
  'serving.breaker_cooldown_ms': spec({ type: 'int', default: 5000, min: 1, env: 'CAPSTAN_SERVING_BREAKER_COOLDOWN_MS', doc: 'How long an open breaker refuses requests before one trial request is let through, in milliseconds.' }),
  'serving.caller_rate_per_second': spec({ type: 'int', default: 0, min: 0, env: 'CAPSTAN_SERVING_CALLER_RATE_PER_SECOND', doc: 'Inference requests per second each caller (token or account) may make across deployments; 0 = unlimited. Shared by replicas through redis.url.' }),
  'serving.caller_burst': spec({ type: 'int', default: 0, min: 0, env: 'CAPSTAN_SERVING_CALLER_BURST', doc: 'Requests a caller may make at once above its rate; 0 means twice the rate.' }),
  'monitoring.tick_ms': spec({ type: 'int', default: 5000, min: 50, max: 600000, env: 'CAPSTAN_MONITORING_TICK_MS', doc: 'How often each replica looks for monitors that are due (one replica runs each), in milliseconds.' }),
  'monitoring.exact_max_rows': spec({ type: 'int', default: 10000, min: 0, max: 1000000, env: 'CAPSTAN_MONITORING_EXACT_MAX_ROWS', doc: 'Windows with at most this many rows get exact statistics (the same report as capstan drift); larger ones are compared through mergeable sketches in constant memory.' }),
  'monitoring.public_url': spec({ type: 'string', default: '', env: 'CAPSTAN_MONITORING_PUBLIC_URL', doc: "This server's address as users reach it (e.g. https://capstan.example.com), for links in alert notifications; empty = http://server.host:server.port." }),
  'monitoring.retention_days': spec({ type: 'int', default: 400, min: 1, max: 36500, env: 'CAPSTAN_MONITORING_RETENTION_DAYS', doc: 'Logged predictions, feedback, usage minutes (cost history) and monitor runs older than this many days are deleted, hourly.' }),
  'pipelines.runner': spec({ type: 'enum', values: ['local', 'kubernetes', 'workers'], default: 'local', env: 'CAPSTAN_PIPELINES_RUNNER', doc: 'Where pipeline steps run: local (child processes on the replica that executes the run), kubernetes (a Job per step) or workers (capstan worker processes pulling from the Redis queue).' }),
  'pipelines.max_parallel': spec({ type: 'int', default: 4, min: 1, max: 1024, env: 'CAPSTAN_PIPELINES_MAX_PARALLEL', doc: 'Step instances one replica runs at once, across all its pipeline runs (a matrix step may ask for fewer with max_parallel).' }),
  'pipelines.max_runs': spec({ type: 'int', default: 16, min: 1, max: 1024, env: 'CAPSTAN_PIPELINES_MAX_RUNS', doc: 'Pipeline runs one replica executes at once; more wait queued for a free replica.' }),
  'pipelines.lease_seconds': spec({ type: 'int', default: 30, min: 2, max: 3600, env: 'CAPSTAN_PIPELINES_LEASE_SECONDS', doc: 'A replica renews its hold on each run it executes; a run whose replica stopped renewing for this long is resumed by another replica.' }),
  'pipelines.tick_ms': spec({ type: 'int', default: 1000, min: 20, max: 600000, env: 'CAPSTAN_PIPELINES_TICK_MS', doc: 'How often each replica looks for queued runs, runs to take over, and due triggers, in milliseconds.' }),
  'pipelines.work_dir': spec({ type: 'string', default: '', env: 'CAPSTAN_PIPELINES_WORK_DIR', doc: 'Where the local runner makes each step attempt its working directory; empty = data_dir/pipeline-work.' }),
  'pipelines.keep_work_dirs': spec({ type: 'bool', default: false, env: 'CAPSTAN_PIPELINES_KEEP_WORK_DIRS', doc: 'Keep step working directories after each attempt (to inspect what a step left behind).' }),
  'pipelines.inherit_env': spec({ type: 'string', default: '', env: 'CAPSTAN_PIPELINES_INHERIT_ENV', doc: 'Comma-separated names of server environment variables local steps also receive (besides PATH, HOME, LANG, LC_*, TZ, TMPDIR, USER, SHELL).' }),
  'pipelines.public_url': spec({ type: 'string', default: '', env: 'CAPSTAN_PIPELINES_PUBLIC_URL', doc: 'The address steps use to reach this server (MLFLOW_TRACKING_URI, CAPSTAN_URL); empty = monitoring.public_url, else http://server.host:server.port.' }),
  'pipelines.redis_url': spec({ type: 'string', default: 'redis://127.0.0.1:6379', env: 'CAPSTAN_PIPELINES_REDIS_URL', secret: true, doc: 'Redis holding the step queue of the workers runner (capstan worker processes connect to the same one).' }),
  'pipelines.kubeconfig': spec({ type: 'string', default: '', env: 'CAPSTAN_PIPELINES_KUBECONFIG', doc: "Kubeconfig file of the kubernetes runner; empty = KUBECONFIG, ~/.kube/config, or the pod's service account when Capstan runs in the cluster." }),
  'pipelines.kubernetes_namespace': spec({ type: 'string', default: 'default', env: 'CAPSTAN_PIPELINES_KUBERNETES_NAMESPACE', doc: 'Namespace the kubernetes runner creates step Jobs and Secrets in.' }),
  'pipelines.kubernetes_image': spec({ type: 'string', default: 'python:3.12-slim', env: 'CAPSTAN_PIPELINES_KUBERNETES_IMAGE', doc: 'Image of steps that name none.' }),
  'pipelines.kubernetes_launcher_image': spec({ type: 'string', default: 'capstan:latest', env: 'CAPSTAN_PIPELINES_KUBERNETES_LAUNCHER_IMAGE', doc: "Capstan's own image, run as the init container that fetches a step's inputs (capstan step fetch)." }),
  'pipelines.kubernetes_service_account': spec({ type: 'string', default: '', env: 'CAPSTAN_PIPELINES_KUBERNETES_SERVICE_ACCOUNT', doc: 'Service account step pods run as; empty = the namespace default.' }),
  'cost.cpu_hour': spec({ type: 'number', default: 0.05, min: 0, env: 'CAPSTAN_COST_CPU_HOUR', doc: 'Rate card: price of one CPU-hour of inference compute, in cost.currency.' }),
  'cost.gpu_hour': spec({ type: 'number', default: 2.5, min: 0, env: 'CAPSTAN_COST_GPU_HOUR', doc: 'Rate card: price of one GPU-hour, used for deployments served with a GPU execution provider.' }),
  'cost.currency': spec({ type: 'string', default: 'USD', env: 'CAPSTAN_COST_CURRENCY', doc: 'Currency code shown with every cost figure.' }),
  'cost.idle_days': spec({ type: 'int', default: 7, min: 1, max: 365, env: 'CAPSTAN_COST_IDLE_DAYS', doc: 'A deployment with no request for this many days is listed by the idle report as one to scale down.' }),
  'log.level': spec({ type: 'enum', default: 'info', values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], env: 'CAPSTAN_LOG_LEVEL', doc: 'Minimum level of the JSON log written to stdout.' }),
  'telemetry.traces': spec({ type: 'enum', default: 'off', values: ['off', 'console', 'otlp'], env: 'CAPSTAN_TELEMETRY_TRACES', doc: 'OpenTelemetry span exporter for HTTP requests and store calls.' }),
  'telemetry.otlp_endpoint': spec({ type: 'string', default: 'http://127.0.0.1:4318/v1/traces', env: 'CAPSTAN_TELEMETRY_OTLP_ENDPOINT', doc: 'OTLP/HTTP traces endpoint used when telemetry.traces is otlp.' }),
  'tracking.truncate_long_values': spec({ type: 'bool', default: true, env: 'CAPSTAN_TRACKING_TRUNCATE_LONG_VALUES', doc: 'Truncate over-long param (6000) and tag (5000) values as MLflow does, instead of rejecting them.' }),
} as const satisfies Record<string, SettingSpec>;

export type SettingKey = keyof typeof SETTINGS;
type ValueOf<S extends SettingSpec> = S['type'] extends 'int' | 'number' ? number : S['type'] extends 'bool' ? boolean : string;
export type Config = { readonly [K in SettingKey]: ValueOf<(typeof SETTINGS)[K]> };
