import { defineRoute, type RouteContext, type RouteDef } from '../server/route.js';
import { pageSize, type Fields } from '../server/fields.js';
import { evaluateGates, gatesFor } from './gates.js';
import type { PolicyService } from './policy.service.js';
import type { PromotionService } from './promotion.js';
import { canonicalStage, type RegistryService } from './registry.service.js';
import { CARD_SPEC, onModel } from './registry.routes.js';
import type { ModelCard } from './types.js';
import { eventToWire, versionDetailToWire } from './wire.js';

type Input = Record<string, any>;
const NAME: Fields = { name: { type: 'string', required: true } };
const VERSION: Fields = { ...NAME, version: { type: 'string', required: true } };
const BASE = '/api/capstan/registry';

/** Capstan's registry routes beyond MLflow's: full version view, verification, cards, history, policy. */
export function governanceRoutes(svc: RegistryService, promotion: PromotionService, policies: PolicyService): RouteDef[] {
  const pid = (ctx: RouteContext) => ctx.project.projectId;
  const projectResource = (ctx: RouteContext) => ({ kind: 'policy' as const, id: ctx.project.name, projectId: ctx.project.projectId });
  return [
    defineRoute({
      method: 'GET', path: `${BASE}/model-versions/get`, tag: 'registry', summary: 'A version with its semver, manifest, signature, model card and unsafe files',
      fields: VERSION, access: onModel('read'),
      handler: async (i, ctx) => ({ model_version: versionDetailToWire(await svc.version(pid(ctx), i.name, i.version)) }),
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/model-versions/resolve`, tag: 'registry', summary: 'Resolve models:/name/version, models:/name@alias or models:/name/stage',
      fields: { uri: { type: 'string', required: true } },
      access: { action: 'read', resource: (i: Input, ctx) => ({ kind: 'model', id: /^models:\/([^/@]+)/.exec(String(i.uri))?.[1], projectId: ctx.project.projectId }) },
      handler: async (i, ctx) => ({ model_version: versionDetailToWire(await svc.resolveModelUri(pid(ctx), i.uri)) }),
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/model-versions/verify`, tag: 'registry', summary: "Re-hash a version's files and check the manifest digest and its signature",
      fields: VERSION, access: onModel('read'),
      handler: async (i, ctx) => {
        const r = await svc.verify(pid(ctx), i.name, i.version);
        return { report: { name: r.name, version: String(r.version), verified: r.verified, manifest_digest: r.manifestDigest, key_id: r.keyId, manifest_intact: r.manifestIntact, signature_valid: r.signatureValid, problems: r.problems } };
      },
    }),
    defineRoute({
      method: 'PATCH', path: `${BASE}/model-versions/card`, tag: 'registry', summary: "Update fields of a version's model card",
      fields: { ...VERSION, card: { type: 'object', required: true, fields: CARD_SPEC } }, access: onModel('write'),
      handler: async (i, ctx) => ({ model_version: versionDetailToWire(await svc.setCard(pid(ctx), i.name, i.version, i.card as Partial<ModelCard>, ctx.principal.name)) }),
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/models/history`, tag: 'registry', summary: 'Every registration, transition, alias change, denial and override of a model',
      fields: { ...NAME, after: { type: 'int', doc: 'Only events after this event_id.' }, max_results: { type: 'int' } }, access: onModel('read'),
      handler: async (i, ctx) => ({ events: (await svc.history(pid(ctx), i.name, i.after ?? 0, pageSize(i.max_results, 1000))).map(eventToWire) }),
    }),
    defineRoute({
      method: 'POST', path: `${BASE}/gates/check`, tag: 'registry', summary: 'Evaluate the gates protecting an alias or stage for a version, changing nothing',
      fields: { ...VERSION, alias: { type: 'string' }, stage: { type: 'string' } }, access: onModel('read'),
      handler: async (i, ctx) => {
        const policy = await policies.current(pid(ctx));
        const target = { alias: i.alias as string | undefined, stage: i.stage ? canonicalStage(i.stage) : undefined };
        const gates = policy ? gatesFor(policy.gates, target) : [];
        const model = await svc.model(pid(ctx), i.name);
        const input = await promotion.gateInput(pid(ctx), model, await svc.version(pid(ctx), i.name, i.version));
        return { gates: gates.map((g) => g.name), ...evaluateGates(gates, input), input };
      },
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/policy`, tag: 'registry', summary: "The project's policy document (promotion gates and retention)",
      fields: {}, access: { action: 'read', resource: (_i, ctx) => projectResource(ctx) },
      handler: async (_i, ctx) => {
        const p = await policies.current(pid(ctx));
        return p ? { text: p.text, updated_time: p.updatedTime, updated_by: p.updatedBy, gates: p.gates.gates.map((g) => ({ name: g.name, protects: g.protects, rules: g.rules.map((r) => r.name) })) } : { text: '' };
      },
    }),
    defineRoute({
      method: 'PUT', path: `${BASE}/policy`, tag: 'registry', summary: "Replace the project's policy document (validated and compiled first)",
      fields: { text: { type: 'string', required: true, doc: 'YAML with gates: and retention:.' } }, access: { action: 'admin', resource: (_i, ctx) => projectResource(ctx) },
      handler: async (i, ctx) => {
        const p = await policies.put(pid(ctx), i.text, ctx.principal.name);
        return { updated_time: p.updatedTime, gates: p.gates.gates.map((g) => g.name) };
      },
    }),
    defineRoute({
      method: 'GET', path: `${BASE}/keys`, tag: 'registry', summary: 'Public keys that sign model manifests (current and retired)',
      fields: {}, access: { signedIn: 'public keys are public: anyone signed in may verify signatures' },
      handler: async () => ({
        current_key_id: svc.keys.currentKeyId,
        public_key_pem: svc.keys.publicKeyPem(),
        keys: (await svc.keys.list()).map((k) => ({ key_id: k.keyId, public_key: k.publicKey, created_time: k.createdTime, retired_time: k.retiredTime ?? undefined, current: k.isCurrent })),
      }),
    }),
  ];
}
