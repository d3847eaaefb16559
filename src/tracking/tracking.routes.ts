import type { RouteDef } from '../server/route.js';
import { experimentRoutes } from './experiments.routes.js';
import { runRoutes } from './runs.routes.js';
import type { TrackingService } from './tracking.service.js';

export function trackingRoutes(svc: TrackingService): RouteDef[] {
  return [...experimentRoutes(svc), ...runRoutes(svc)];
}
