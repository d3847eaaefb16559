import type { Action, Resource } from '../access/index.js';
import type { RouteAccess, RouteContext } from '../server/route.js';
import type { TrackingService } from './tracking.service.js';

type Input = Record<string, any>;

/**
 * What a tracking route acts on, with the project each object belongs to. An id that names nothing
 * is checked against the request's project, so a member gets the handler's 404 and an outsider a 403.
 */
export async function trackedResources(svc: TrackingService, kind: 'experiment' | 'run', ids: readonly string[], ctx: RouteContext): Promise<Resource[]> {
  const projects = await svc.projectsOf(kind, ids);
  return ids.map((id) => ({ kind, id, projectId: projects.get(id) ?? ctx.project.projectId }));
}

const requestProject = (ctx: RouteContext): Resource => ({ kind: 'project', id: ctx.project.name, projectId: ctx.project.projectId });

/** The request's project itself: creating in it, searching it. */
export const inProject = (action: Action): RouteAccess<Input> => ({ action, resource: (_i, ctx) => requestProject(ctx) });

export const onExperiments = (svc: TrackingService, action: Action, idsOf: (i: Input) => string[]): RouteAccess<Input> => ({
  action,
  resource: (i, ctx) => {
    const ids = idsOf(i);
    return ids.length ? trackedResources(svc, 'experiment', ids, ctx) : requestProject(ctx);
  },
});

export const onRuns = (svc: TrackingService, action: Action, idsOf: (i: Input) => string[]): RouteAccess<Input> => ({
  action,
  resource: (i, ctx) => trackedResources(svc, 'run', idsOf(i), ctx),
});

/** The run a request names by `run_id` or its deprecated twin `run_uuid`. */
export const runIdsOf = (i: Input): string[] => {
  const id = i.run_id ?? i.run_uuid;
  return typeof id === 'string' && id !== '' ? [id] : [];
};
