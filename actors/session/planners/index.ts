import type { PlannerSpec } from '../../../src/contracts.ts';
import { RuntimeError } from '../../../src/errors.ts';
import { externalPlanner } from './external.ts';
import type { Planner } from './planner.ts';
import { scriptedPlanner } from './scripted.ts';

export function createPlanner(spec: PlannerSpec): Planner {
  switch (spec.type) {
    case 'scripted':
      return scriptedPlanner(spec);
    case 'external':
      return externalPlanner();
    default:
      throw new RuntimeError('invalid_context', `planner ${spec.type} is not available in this build`);
  }
}
