// tidewire/redis: the Broker that spans nodes through Redis (docs/deploy.md, "Redis").

export { RedisBroker, REDIS_BROKER_DEFAULTS, type RedisBrokerOptions, type RedisBrokerStats } from './redis-broker.js';
