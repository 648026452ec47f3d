/**
 * `@ssekit/core`: spec-correct Server-Sent Events for Node.js. This entry holds what an
 * application uses; what adapter, backend and transport authors need is on
 * `@ssekit/core/integration`.
 * @packageDocumentation
 */
export type { SseEvent, StoredEvent, MaybePromise } from './event.js';
export type { EventMap, AnyEvents, EventOf, PipeItemOf, ControlEvent } from './event-map.js';
export type { StandardSchemaV1, StandardSchemaProps, StandardSchemaResult, StandardSchemaIssue } from './standard-schema.js';
export type { SseSchemas } from './validation.js';
export {
  SseError,
  SseFormatError,
  SseClosedError,
  SseOptionsError,
  SseUnavailableError,
  SseHttpError,
  SseValidationError,
  type SseErrorCode,
  type SseField,
  type CloseReason,
} from './errors.js';
export { formatEvent, formatComment } from './format.js';
export { SseWriter } from './writer.js';
export { SseConnection, type Connection, type UntypedConnection, type TypedConnection, type CloseListener, type CloseOptions, type PipeItem } from './connection.js';
export type { ConnectionOptions, SseOptions, OpenOptions, Authorize, AuthorizeResult } from './options.js';
export type {
  SseMeter,
  SseCounter,
  SseHistogram,
  SseInstrumentOptions,
  SseMetricAttributes,
  SseCloseCause,
  SseRejectReason,
} from './metrics.js';
export type { SseStats } from './stats.js';
export { createConnection, isClientDisconnected, DefaultProvider, type NodeRequest, type NodeResponse } from './node.js';
export type { SseSink } from './sink.js';
export type { SseHeaders } from './headers.js';
export type { Provider } from './provider.js';
export type { Broadcaster, BroadcastOptions } from './broadcaster.js';
export { Hub, type HubOptions, type BroadcastHook, type BroadcastToHook } from './hub.js';
export {
  MemoryReplayer,
  type Replayer,
  type SyncReplayer,
  type ReplaySend,
  type ReplayOptions,
  type ReplayResult,
  type MemoryReplayerOptions,
} from './replayer.js';
export { withReplay, RESET_EVENT, type WithReplayOptions } from './handoff.js';
export { createSseHandler, type SseHandler, type OpenContext, type StreamRequest, type OpenConnection } from './handler.js';
export { closeServerAndStreams, type ClosableServer, type ClosableStreams } from './shutdown.js';
export type { OpenStream, SseMiddlewareApi } from './adapter.js';
