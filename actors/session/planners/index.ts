import type { PlannerSpec, SessionContext } from '../../../src/contracts.ts';
import { RuntimeError } from '../../../src/errors.ts';
import { externalPlanner } from './external.ts';
import { openaiPlanner } from './openai.ts';
import type { Planner } from './planner.ts';
import { scriptedPlanner } from './scripted.ts';

export function createPlanner(spec: PlannerSpec, secrets?: SessionContext['secrets']): Planner {
  switch (spec.type) {
    case 'scripted':
      return scriptedPlanner(spec);
    case 'external':
      return externalPlanner();
    case 'openai':
      return openaiPlanner(spec, { apiKey: secrets?.planner_api_key });
    default:
      throw new RuntimeError(
        'invalid_context',
        `planner ${(spec as { type: string }).type} is not available in this build`,
      );
  }
}
