/** Picks the capability cache for a configuration: Redis when REDIS_URL is set, else in process. */
import type { Config } from '../../../config/schema.ts';
import type { Logger } from '../../log.ts';
import { AgentCapabilityCache } from './agent-capabilities.ts';
import { InProcessCapabilityCache } from './capability-cache.ts';

export async function createAgentCapabilityCache(
  config: Pick<Config, 'redis' | 'capability'>,
  log: Logger,
): Promise<AgentCapabilityCache> {
  const ttl = config.capability.cache_ttl;
  if (!config.redis.url) return new AgentCapabilityCache(new InProcessCapabilityCache(), ttl, log);
  // Loaded only when configured: a node without Redis never opens a connection.
  const { RedisCapabilityCache } = await import('./redis-capability-cache.ts');
  const redis = new RedisCapabilityCache(config.redis.url, {
    log,
    ...(config.redis.key_prefix ? { prefix: config.redis.key_prefix } : {}),
  });
  await redis.connect();
  return new AgentCapabilityCache(redis, ttl, log);
}
