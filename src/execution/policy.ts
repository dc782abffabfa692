/** The runtime policy of a session: request fields over config defaults. */
import type { Config } from '../../config/schema.ts';
import { DEFAULT_HIGH_RISK_TOOLS, type RuntimePolicy, type RuntimePolicyInput } from '../contracts.ts';

export function resolvePolicy(input: RuntimePolicyInput | undefined, defaults: Config['policy']): RuntimePolicy {
  return {
    max_iterations: input?.max_iterations ?? defaults.max_iterations,
    timeout_seconds: input?.timeout_seconds ?? defaults.timeout_seconds,
    action_timeout_seconds: input?.action_timeout_seconds ?? defaults.action_timeout_seconds,
    max_concurrent_actions: input?.max_concurrent_actions ?? defaults.max_concurrent_actions,
    require_approval_for_high_risk: input?.require_approval_for_high_risk ?? true,
    high_risk_tools: input?.high_risk_tools ?? [...DEFAULT_HIGH_RISK_TOOLS],
    approval_timeout_seconds: input?.approval_timeout_seconds ?? defaults.approval_timeout_seconds,
    execute_code_network: input?.execute_code_network ?? false,
  };
}

export function requiresApproval(policy: RuntimePolicy, actionName: string): boolean {
  return policy.require_approval_for_high_risk && policy.high_risk_tools.includes(actionName);
}
