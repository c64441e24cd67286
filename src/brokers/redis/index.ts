// tidewire/redis: the Broker that spans nodes through Redis (docs/deploy.md, "Redis").

export { RedisBroker, type RedisBrokerStats } from './redis-broker.js';
export { REDIS_BROKER_DEFAULTS, type RedisBrokerOptions } from './redis-broker-options.js';
