// What the Kubernetes stand-in (kube-standin.ts) holds Kubernetes to: the validation rules of the
// objects it accepts (names, labels, env names, quantities, Job and pod spec rules, as 422 causes),
// its Status error bodies, label selectors, log timestamps, and how a container's environment is
// made from its env, envFrom and the Secrets they name.

export type Obj = Record<string, any>;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti|P|Pi|E|Ei|[eE][0-9]+)?$/;
export const RESOURCES: Record<string, { group: string; kind: string }> = { jobs: { group: 'batch', kind: 'Job' }, secrets: { group: '', kind: 'Secret' }, pods: { group: '', kind: 'Pod' } };

/** Go's RFC3339Nano: nine fraction digits at most, trailing zeros (and a bare dot) dropped. */
export function rfc3339Nano(ns: bigint): string {
  const seconds = new Date(Number(ns / 1_000_000_000n) * 1000).toISOString().slice(0, 19);
  const fraction = String(ns % 1_000_000_000n).padStart(9, '0').replace(/0+$/, '');
  return `${seconds}${fraction ? `.${fraction}` : ''}Z`;
}

/** Equality-based label selectors: `a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-separated. */
export function matches(selector: string, labels: Record<string, string> = {}): boolean {
  return selector.split(',').filter(Boolean).every((term) => {
    const m = /^\s*(!?)([^!=\s]+)\s*(?:(==|=|!=)\s*(\S*))?\s*$/.exec(term);
    if (!m) return false;
    const [, not, key, op, value] = m;
    if (!op) return not ? !(key in labels) : key in labels;
    return op === '!=' ? labels[key] !== value : labels[key] === value;
  });
}

/** A Kubernetes Status body (the shape every API error has). */
export function statusBody(code: number, reason: string, message: string, details?: Obj): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

/** The 422 Status for invalid fields, with Kubernetes' message format. */
export function invalidBody(resource: string, name: string, causes: Cause[]): Obj {
  const { group, kind } = RESOURCES[resource];
  const text = causes.length === 1 ? `${causes[0].field}: ${causes[0].message}` : `[${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}]`;
  return statusBody(422, 'Invalid', `${kind}${group ? `.${group}` : ''} "${name}" is invalid: ${text}`, { name, group: group || undefined, kind, causes: causes.map((c) => ({ reason: 'FieldValueInvalid', ...c })) });
}

/** A container's environment as the kubelet makes it (envFrom first, env over it), or why it cannot. */
export function containerEnv(c: Obj, secret: (name: string) => Obj | undefined, base: Record<string, string>): Record<string, string> | string {
  const env = { ...base };
  const decode = (v: string) => Buffer.from(v, 'base64').toString('utf8');
  for (const from of c.envFrom ?? []) {
    const s = secret(from.secretRef?.name);
    if (!s) return `secret "${from.secretRef?.name}" not found`;
    for (const [k, v] of Object.entries(s.data ?? {})) env[k] = decode(String(v));
  }
  for (const e of c.env ?? []) {
    const ref = e.valueFrom?.secretKeyRef;
    if (!ref) {
      env[e.name] = e.value ?? '';
      continue;
    }
    const value = secret(ref.name)?.data?.[ref.key];
    if (value === undefined) return `couldn't find key ${ref.key} in Secret ${ref.name}`;
    env[e.name] = decode(value);
  }
  return env;
}

export type Cause = { field: string; message: string };

function validateMeta(meta: Obj | undefined, nameRule: RegExp, maxName: number): Cause[] {
  const causes: Cause[] = [];
  if (!meta?.name) causes.push({ field: 'metadata.name', message: 'Required value: name or generateName is required' });
  else if (!nameRule.test(meta.name) || meta.name.length > maxName) causes.push({ field: 'metadata.name', message: `Invalid value: "${meta.name}": must be a lowercase RFC 1123 ${maxName === 63 ? 'label' : 'subdomain'} of at most ${maxName} characters` });
  for (const [k, v] of Object.entries(meta?.labels ?? {})) {
    if (!LABEL_KEY.test(k)) causes.push({ field: 'metadata.labels', message: `Invalid value: "${k}": name part must consist of alphanumeric characters, '-', '_' or '.'` });
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) causes.push({ field: 'metadata.labels', message: `Invalid value: "${v}": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character` });
  }
  return causes;
}

export function validateSecret(body: Obj): Cause[] {
  const causes = validateMeta(body.metadata, DNS_SUBDOMAIN, 253);
  for (const key of [...Object.keys(body.data ?? {}), ...Object.keys(body.stringData ?? {})]) {
    if (!SECRET_KEY.test(key)) causes.push({ field: `data[${key}]`, message: `Invalid value: "${key}": a valid config key must consist of alphanumeric characters, '-', '_' or '.'` });
  }
  return causes;
}

export function validateJob(body: Obj): Cause[] {
  const causes = validateMeta(body.metadata, DNS_LABEL, 63);
  const spec = body.spec ?? {};
  const pod = spec.template?.spec ?? {};
  if (spec.backoffLimit !== undefined && !(Number.isInteger(spec.backoffLimit) && spec.backoffLimit >= 0)) causes.push({ field: 'spec.backoffLimit', message: 'Invalid value: must be greater than or equal to 0' });
  if (spec.activeDeadlineSeconds !== undefined && !(Number.isInteger(spec.activeDeadlineSeconds) && spec.activeDeadlineSeconds > 0)) causes.push({ field: 'spec.activeDeadlineSeconds', message: 'Invalid value: must be greater than 0' });
  if (!['Never', 'OnFailure'].includes(pod.restartPolicy)) causes.push({ field: 'spec.template.spec.restartPolicy', message: `Unsupported value: "${pod.restartPolicy ?? ''}": supported values: "OnFailure", "Never"` });
  if (!pod.containers?.length) causes.push({ field: 'spec.template.spec.containers', message: 'Required value' });
  const volumes = new Set((pod.volumes ?? []).map((v: Obj) => v.name));
  for (const [list, containers] of [['containers', pod.containers ?? []], ['initContainers', pod.initContainers ?? []]] as const) {
    for (const [i, c] of (containers as Obj[]).entries()) {
      const at = `spec.template.spec.${list}[${i}]`;
      if (!c.name || !DNS_LABEL.test(c.name)) causes.push({ field: `${at}.name`, message: `Invalid value: "${c.name ?? ''}"` });
      if (!c.image) causes.push({ field: `${at}.image`, message: 'Required value' });
      for (const [j, e] of (c.env ?? []).entries()) if (!ENV_NAME.test(e.name ?? '')) causes.push({ field: `${at}.env[${j}].name`, message: `Invalid value: "${e.name}": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit` });
      for (const kind of ['requests', 'limits']) {
        for (const [r, q] of Object.entries(c.resources?.[kind] ?? {})) if (typeof q !== 'string' || !QUANTITY.test(q)) causes.push({ field: `${at}.resources.${kind}[${r}]`, message: `Invalid value: "${q}": must match the regex for quantities` });
      }
      for (const [j, m] of (c.volumeMounts ?? []).entries()) if (!volumes.has(m.name)) causes.push({ field: `${at}.volumeMounts[${j}].name`, message: `Not found: "${m.name}"` });
    }
  }
  return causes;
}
