// The Kubernetes packaging (deploy/kubernetes/base), checked without a cluster: every object is
// validated against the Kubernetes OpenAPI schemas of a current release (kubernetes-models) and, for
// fields the schemas leave open, against the official client's models (a misspelt field is an
// error here, as it is for `kubectl apply --validate=strict`); then what ties the objects to Capstan:
// probes, settings, RBAC, metrics, selectors.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as k8s from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { loadConfig } from '../../src/config/index.js';
import { RUNNER_RBAC_RULES } from '../../src/pipelines/kubernetes/rbac.js';
import { call } from '../support/inject.js';
import { startTestPlatform } from '../support/platform.js';
import { ROOT } from '../support/server-process.js';

const BASE = join(ROOT, 'deploy', 'kubernetes', 'base');
type Obj = Record<string, any>;

/** apiVersion/kind → the schema-validating model and the client's model name. */
const KINDS: Record<string, [new (o: any) => { validate(): void }, string]> = {
  'v1/ServiceAccount': [ServiceAccount, 'V1ServiceAccount'],
  'v1/ConfigMap': [ConfigMap, 'V1ConfigMap'],
  'v1/Secret': [Secret, 'V1Secret'],
  'v1/Service': [Service, 'V1Service'],
  'rbac.authorization.k8s.io/v1/Role': [Role, 'V1Role'],
  'rbac.authorization.k8s.io/v1/RoleBinding': [RoleBinding, 'V1RoleBinding'],
  'apps/v1/Deployment': [Deployment, 'V1Deployment'],
  'autoscaling/v2/HorizontalPodAutoscaler': [HorizontalPodAutoscaler, 'V2HorizontalPodAutoscaler'],
  'policy/v1/PodDisruptionBudget': [PodDisruptionBudget, 'V1PodDisruptionBudget'],
  'networking.k8s.io/v1/NetworkPolicy': [NetworkPolicy, 'V1NetworkPolicy'],
};

function load(file: string): Obj[] {
  return parseAllDocuments(readFileSync(join(BASE, file), 'utf8')).map((d) => {
    assert.equal(d.errors.length, 0, `${file}: ${d.errors.map((e) => e.message).join('; ')}`);
    return d.toJS() as Obj;
  });
}

/** Fields the client's model of `type` does not know, as paths. */
function unknownFields(value: unknown, type: string, path: string): string[] {
  if (value === null || value === undefined) return [];
  const array = /^Array<(.+)>$/.exec(type);
  if (array) return (value as unknown[]).flatMap((v, i) => unknownFields(v, array[1], `${path}[${i}]`));
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) return Object.entries(value as Obj).flatMap(([key, v]) => unknownFields(v, map[1], `${path}.${key}`));
  const model = (k8s as unknown as Record<string, { getAttributeTypeMap?: () => { baseName: string; type: string }[] }>)[type];
  if (!model?.getAttributeTypeMap) return []; // a primitive, IntOrString, a quantity
  const attrs = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  return Object.entries(value as Obj).flatMap(([key, v]) => (attrs.has(key) ? unknownFields(v, attrs.get(key)!, `${path}.${key}`) : [`${path}.${key}`]));
}

const kustomization = parseAllDocuments(readFileSync(join(BASE, 'kustomization.yaml'), 'utf8'))[0].toJS() as Obj;
const objects = (kustomization.resources as string[]).flatMap(load);
const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
const deployments = byKind('Deployment');
const containers = deployments.map((d) => [d.metadata.name, d.spec.template.spec.containers[0]] as [string, Obj]);

describe('deploy: the Kubernetes base', () => {
  it('holds only objects valid against the Kubernetes schemas, with no field the API would not know', () => {
    assert.ok(objects.length >= 12, `${objects.length} objects`);
    for (const o of [...objects, ...load('secret.example.yaml')]) {
      const entry = KINDS[`${o.apiVersion}/${o.kind}`];
      assert.ok(entry, `no schema for ${o.apiVersion} ${o.kind}`);
      const [Model, clientType] = entry;
      assert.doesNotThrow(() => new Model(o).validate(), `${o.kind} ${o.metadata?.name}`);
      assert.deepEqual(unknownFields(o, clientType, `${o.kind}/${o.metadata.name}`), []);
    }
  });

  it('the strict check does catch a misspelt field', () => {
    const bad = structuredClone(deployments[0]);
    bad.spec.template.spec.containers[0].livenesProbe = bad.spec.template.spec.containers[0].livenessProbe;
    assert.deepEqual(unknownFields(bad, 'V1Deployment', 'd'), ['d.spec.template.spec.containers[0].livenesProbe']);
  });

  it('wires probes to /healthz and /readyz on the HTTP port, with requests, non-root and a read-only root', () => {
    assert.deepEqual(deployments.map((d) => d.metadata.name).sort(), ['capstan', 'capstan-serving']);
    for (const [name, c] of containers) {
      assert.deepEqual(c.ports, [{ name: 'http', containerPort: 5050, protocol: 'TCP' }], name);
      assert.equal(c.livenessProbe.httpGet.path, '/healthz', name);
      assert.equal(c.startupProbe.httpGet.path, '/healthz', name);
      assert.equal(c.readinessProbe.httpGet.path, '/readyz', name);
      for (const p of [c.livenessProbe, c.readinessProbe, c.startupProbe]) assert.equal(p.httpGet.port, 'http');
      assert.ok(c.resources.requests.cpu && c.resources.requests.memory, name);
      assert.equal(c.securityContext.readOnlyRootFilesystem, true);
      assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
      assert.deepEqual(c.envFrom, [{ configMapRef: { name: 'capstan-config' } }, { secretRef: { name: 'capstan-secrets' } }]);
      // Writable places for a read-only root: the data dir and /tmp.
      assert.deepEqual(c.volumeMounts.map((m: Obj) => m.mountPath).sort(), ['/tmp', '/var/lib/capstan']);
    }
    for (const d of deployments) {
      assert.equal(d.spec.template.spec.securityContext.runAsNonRoot, true);
      assert.equal(d.spec.template.spec.serviceAccountName, 'capstan');
      assert.ok(d.spec.template.spec.terminationGracePeriodSeconds * 1000 > 10_000, 'longer than server.shutdown_grace_ms');
    }
  });

  it('sets only settings Capstan knows, with values it accepts', () => {
    const env: Record<string, string> = {};
    for (const o of [...byKind('ConfigMap'), ...load('secret.example.yaml')]) Object.assign(env, o.data ?? {}, o.stringData ?? {});
    for (const [, c] of containers) for (const e of c.env ?? []) env[e.name] = e.value ?? 'from-the-pod';
    const config = loadConfig({ env });
    assert.equal(config['auth.mode'], 'on');
    assert.equal(config['pipelines.runner'], 'kubernetes');
    assert.equal(config['server.host'], '0.0.0.0');
    assert.equal(config['server.port'], 5050);
  });

  it('grants the service account exactly what the kubernetes pipeline runner uses, in its namespace only', () => {
    const [role] = byKind('Role');
    assert.deepEqual(role.rules, RUNNER_RBAC_RULES);
    assert.equal(byKind('ClusterRole').length, 0);
    const [binding] = byKind('RoleBinding');
    assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name });
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: byKind('ServiceAccount')[0].metadata.name }]);
  });

  it('points Services, disruption budgets, the autoscaler and the network policy at the right pods', () => {
    const labelsOf = (name: string) => deployments.find((d) => d.metadata.name === name)!.spec.template.metadata.labels;
    const matches = (selector: Obj, labels: Obj) => Object.entries(selector).every(([k, v]) => labels[k] === v);
    for (const s of byKind('Service')) {
      assert.ok(matches(s.spec.selector, labelsOf(s.metadata.name)), s.metadata.name);
      assert.equal(s.spec.ports[0].targetPort, 'http');
    }
    for (const p of byKind('PodDisruptionBudget')) assert.ok(matches(p.spec.selector.matchLabels, labelsOf(p.metadata.name)), p.metadata.name);
    for (const d of deployments) assert.deepEqual(d.spec.selector.matchLabels, Object.fromEntries(Object.entries(labelsOf(d.metadata.name)).filter(([k]) => k !== 'app.kubernetes.io/part-of')));
    const [hpa] = byKind('HorizontalPodAutoscaler');
    assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: 'capstan-serving' });
    const [policy] = byKind('NetworkPolicy');
    for (const d of deployments) assert.ok(matches(policy.spec.podSelector.matchLabels, labelsOf(d.metadata.name)));
    assert.deepEqual(policy.spec.ingress[0].ports, [{ port: 5050, protocol: 'TCP' }]);
  });

  it('scales serving on a metric Capstan really exports', async () => {
    const [hpa] = byKind('HorizontalPodAutoscaler');
    const names = hpa.spec.metrics.filter((m: Obj) => m.type === 'Pods').map((m: Obj) => m.pods.metric.name as string);
    assert.deepEqual(names, ['capstan_inference_queue_depth']);
    const tp = await startTestPlatform();
    try {
      const text = (await call(tp.app, 'GET', '/metrics')).text;
      for (const name of names) assert.match(text, new RegExp(`^# TYPE ${name} gauge$`, 'm'));
    } finally {
      await tp.close();
    }
  });
});
