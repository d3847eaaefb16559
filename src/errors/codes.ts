/**
 * The one table of error codes. Every HTTP error Capstan returns carries one of these codes;
 * the compiler checks each entry has a status and a doc line, and a test checks docs/errors.md
 * lists every code. MLflow's codes keep MLflow's exact statuses because its clients depend on them.
 */
export const ERROR_CODES = {
  // MLflow wire codes (statuses as the MLflow server answers them).
  INVALID_PARAMETER_VALUE: { status: 400, doc: 'A request field is missing, has the wrong type or an invalid value (MLflow).' },
  RESOURCE_ALREADY_EXISTS: { status: 400, doc: 'An object with that name or id already exists (MLflow answers 400, not 409).' },
  BAD_REQUEST: { status: 400, doc: 'The request is malformed: unparsable JSON or a wrong content type.' },
  RESOURCE_DOES_NOT_EXIST: { status: 404, doc: 'The experiment, run, metric, artifact or other object does not exist.' },
  ENDPOINT_NOT_FOUND: { status: 404, doc: 'No route matches this method and path.' },
  PERMISSION_DENIED: { status: 403, doc: 'The principal is authenticated but not allowed to do this.' },
  UNAUTHENTICATED: { status: 401, doc: 'No valid credentials were presented.' },
  REQUEST_LIMIT_EXCEEDED: { status: 429, doc: 'A rate limit was hit; retry after the time in the Retry-After header.' },
  INVALID_STATE: { status: 500, doc: 'The object is in a state that forbids the operation (MLflow answers 500 for this).' },
  INTERNAL_ERROR: { status: 500, doc: 'An unexpected server fault; the log line with the same request_id has the cause.' },
  TEMPORARILY_UNAVAILABLE: { status: 503, doc: 'The server is starting, draining or a backing service is down; retry later.' },
  // Capstan codes.
  PAYLOAD_TOO_LARGE: { status: 413, doc: 'The request body is larger than server.max_body_bytes.' },
  CONFIG_INVALID: { status: 500, doc: 'The configuration is invalid; raised at start-up and naming the offending key.' },
  STORE_UNAVAILABLE: { status: 503, doc: 'The metadata database or blob store cannot be reached.' },
  ARTIFACT_INTEGRITY_ERR: { status: 500, doc: 'A stored blob no longer matches the sha256 recorded when it was written.' },
  POLICY_DENIED: { status: 403, doc: 'A promotion gate of the project denied the alias or stage change; details name each failed rule.' },
  ARTIFACT_PINNED: { status: 409, doc: 'The artifact belongs to a registered model version or dataset version and cannot be changed.' },
  MODEL_INPUT_INVALID: { status: 400, doc: 'An inference request does not fit the model: an input name, datatype, shape or data element is wrong; the message names the input.' },
  MODEL_NOT_READY: { status: 503, doc: 'The model exists but is loading, draining or failed to load; retry after the time in Retry-After.' },
  MODEL_OVERLOADED: { status: 429, doc: "The model's request queue is full (load shedding); retry after the time in Retry-After." },
  MODEL_TIMEOUT: { status: 504, doc: 'The inference did not finish within serving.request_timeout_ms (queue wait included).' },
  MODEL_CIRCUIT_OPEN: { status: 503, doc: "The model version failed repeatedly and its circuit breaker is open; retry after the time in Retry-After." },
  MODEL_INFERENCE_ERR: { status: 500, doc: 'The model runtime failed on this request; other models keep serving. The message carries the runtime\'s reason.' },
  MODEL_TRAIN_ERR: { status: 500, doc: 'A training step failed; details name the run and step.' },
  PIPELINE_STEP_ERR: { status: 500, doc: 'A pipeline step failed; details name the pipeline run and step.' },
} as const satisfies Record<string, { status: number; doc: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;
