import { minimumRole, type Action, type Role } from '../access/index.js';
import { ERROR_CODES } from '../errors/index.js';
import type { FieldSpec, Fields } from './fields.js';
import { urlsOf } from './register.js';
import type { RouteDef } from './route.js';

function schemaOf(spec: FieldSpec): Record<string, unknown> {
  const doc = spec.doc ? { description: spec.doc } : {};
  switch (spec.type) {
    case 'string':
      return { type: 'string', ...(spec.enum ? { enum: [...spec.enum] } : {}), ...doc };
    case 'int':
      return { type: 'integer', format: 'int64', ...doc };
    case 'double':
      return { oneOf: [{ type: 'number' }, { type: 'string', enum: ['NaN', 'Infinity', '-Infinity'] }], ...doc };
    case 'bool':
      return { type: 'boolean', ...doc };
    case 'any':
      return { ...doc };
    case 'string[]':
      return { type: 'array', items: { type: 'string' }, ...doc };
    case 'object[]':
      return { type: 'array', items: objectSchema(spec.fields), ...doc };
    case 'object':
      return { ...objectSchema(spec.fields), ...doc };
  }
}

function objectSchema(fields: Fields): Record<string, unknown> {
  const required = Object.entries(fields).filter(([, s]) => s.required).map(([n]) => n);
  return {
    type: 'object',
    properties: Object.fromEntries(Object.entries(fields).map(([n, s]) => [n, schemaOf(s)])),
    ...(required.length ? { required } : {}),
  };
}

/** Fastify `:param` and `*` → OpenAPI `{param}`. */
function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z_]\w*)/g, '{$1}').replace(/\*$/, '{path}');
}

/** What a route requires, as docs/access.md and the access matrix test read it. */
export function accessOf(route: RouteDef): { action: Action; minimum_role: Role | 'owner' } | { signed_in: string } | { public: string } {
  if ('action' in route.access) return { action: route.access.action, minimum_role: route.access.serverWide ? 'owner' : minimumRole(route.access.action) };
  if ('signedIn' in route.access) return { signed_in: route.access.signedIn };
  return { public: route.access.public };
}

function operation(route: RouteDef): Record<string, unknown> {
  const op: Record<string, unknown> = {
    summary: route.summary,
    tags: [route.tag],
    responses: {
      '200': { description: 'Success', content: { 'application/json': { schema: route.response ?? { type: 'object' } } } },
      default: { description: 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
    },
  };
  if ('public' in route.access) op.security = [];
  op['x-capstan-access'] = accessOf(route);
  const pathParams = [...route.path.matchAll(/:([A-Za-z_]\w*)|\*$/g)].map((m) => ({ name: m[1] ?? 'path', in: 'path', required: true, schema: { type: 'string' } }));
  if (route.fields && route.method === 'GET') {
    const query = Object.entries(route.fields).map(([name, s]) => ({ name, in: 'query', required: !!s.required, schema: schemaOf(s) }));
    op.parameters = [...pathParams, ...query];
  } else {
    if (pathParams.length) op.parameters = pathParams;
    if (route.fields) op.requestBody = { required: true, content: { 'application/json': { schema: objectSchema(route.fields) } } };
    if (route.rawBody) op.requestBody = { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } };
  }
  return op;
}

/** The OpenAPI 3.1 document of every registered route, built from the same declarations the server runs. */
export function buildOpenApi(routes: readonly RouteDef[], version: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) {
    for (const url of urlsOf(route)) {
      const item = (paths[openApiPath(url)] ??= {});
      item[route.method.toLowerCase()] = operation(route);
    }
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Capstan API', version, description: 'Experiment tracking (MLflow-compatible), artifacts and operations endpoints of Capstan.' },
    paths,
    // Public operations override this with an empty list.
    security: [{ bearer: [] }, { basic: [] }],
    components: {
      schemas: {
        Error: {
          type: 'object',
          required: ['error_code', 'message'],
          properties: {
            error_code: { type: 'string', enum: Object.keys(ERROR_CODES) },
            message: { type: 'string' },
            details: { type: 'object' },
            request_id: { type: 'string' },
          },
        },
      },
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A Capstan API or session token, or an OIDC JWT from the configured issuer.' }, basic: { type: 'http', scheme: 'basic' } },
    },
  };
}
