/** The health every component reports (/health, runtime.health()), defined once. */
export type ComponentStatus = 'healthy' | 'degraded' | 'unhealthy';

export interface ComponentHealth {
  status: ComponentStatus;
  detail?: string;
}

/** The overall status of a set of components: the worst of them. */
export function worstStatus(statuses: readonly ComponentStatus[]): ComponentStatus {
  if (statuses.includes('unhealthy')) return 'unhealthy';
  return statuses.includes('degraded') ? 'degraded' : 'healthy';
}
