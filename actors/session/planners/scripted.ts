/** The scripted planner: the caller gives every step up front; run() plays them in order. */
import type { PlannerSpec } from '../../../src/contracts.ts';
import type { Planner } from './planner.ts';

export function scriptedPlanner(spec: Extract<PlannerSpec, { type: 'scripted' }>): Planner {
  let next = 0;
  return {
    type: 'scripted',
    autonomous: true,
    async nextStep() {
      const step = spec.steps[next];
      if (!step) return null;
      next++;
      return step;
    },
  };
}
