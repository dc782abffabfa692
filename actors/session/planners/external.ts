/** The external planner: the LLM lives outside; its caller submits batches via execute(). */
import { RuntimeError } from '../../../src/errors.ts';
import type { Planner } from './planner.ts';

export function externalPlanner(): Planner {
  return {
    type: 'external',
    autonomous: false,
    async nextStep() {
      throw new RuntimeError('wrong_planner', 'an external-planner session is driven through execute(), not run()');
    },
  };
}
