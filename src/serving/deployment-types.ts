/** Where a rollout stands; stored with the deployment and changed only with a new revision. */
export interface RolloutState {
  status: 'none' | 'progressing' | 'paused' | 'succeeded' | 'rolled_back';
  /** Index into the rollout's steps of the weight the canary has now. */
  step: number;
  /** When the current step began (ms epoch); the next step waits interval_seconds from it. */
  stepStartedAt: number;
  /** The last analysis: verdict, reasons and the numbers it saw. */
  lastDecision: { at: number; verdict: string; reasons: string[]; observed: Record<string, unknown> } | null;
}

export const NO_ROLLOUT: RolloutState = { status: 'none', step: 0, stepStartedAt: 0, lastDecision: null };

export interface StoredDeployment {
  deploymentId: number;
  projectId: number;
  name: string;
  /** The deployment document in its file form (snake_case). */
  spec: Record<string, unknown>;
  revision: number;
  rollout: RolloutState;
  createdTime: number;
  updatedTime: number;
  updatedBy: string;
}

export interface DeploymentEvent {
  eventId: number;
  time: number;
  actor: string;
  kind: string;
  detail: Record<string, unknown>;
}
