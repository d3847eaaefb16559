/**
 * What the kubernetes pipeline runner asks of the API server in its namespace, as RBAC rules. The
 * Role in deploy/kubernetes grants exactly these (a test holds them equal). `update` on secrets is
 * optional: without it a step's Secret is not owned by its Job, and Capstan still deletes it.
 */
export const RUNNER_RBAC_RULES = [
  { apiGroups: ['batch'], resources: ['jobs'], verbs: ['create', 'get', 'delete'] },
  { apiGroups: [''], resources: ['secrets'], verbs: ['create', 'update', 'delete'] },
  { apiGroups: [''], resources: ['pods'], verbs: ['list', 'watch', 'delete'] },
  { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
] as const;
