/**
 * `@ssekit/core/integration`: what adapter, backend and transport authors need beyond the
 * application's API: the sink contract and the Node sink, the stream headers, the body-then-id
 * encoding, topic checks, option validators, the connection registry behind `Hub`, the storm
 * controls replayers share (`ReplayGate`), and heartbeat statistics for leak tests.
 * Applications should not need anything here.
 * @packageDocumentation
 */
export type { SseSink } from './sink.js';
export { nodeSink, type NodeRequest, type NodeResponse } from './node.js';
export { streamHeaders, type SseHeaders } from './headers.js';
export { formatEventBody, withIdLine } from './format.js';
export { MAX_TOPIC_LENGTH, topicProblem, assertTopic } from './topic.js';
export { nonNegativeInt, positiveInt } from './options.js';
export { assertKnownOptions, type OptionKeys } from './option-keys.js';
export { Registry } from './registry.js';
export { ReplayGate, DEFAULT_MAX_CONCURRENT_REPLAYS, DEFAULT_MAX_REPLAY_EVENTS, type ReplayGateStats } from './replay-gate.js';
export { heartbeatStats } from './heartbeat.js';
export { brandError } from './errors.js';
export { eventValidator, type EventValidator } from './validation.js';
export { kAsyncStore } from './replayer.js';
export { isMeter, kObserveDeliveries, type DeliveryObserver, type ObservableDeliveries } from './metrics.js';
export type { StreamRequest, OpenConnection, SseHandler } from './handler.js';
export { handlerApi } from './adapter.js';
