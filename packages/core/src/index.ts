/**
 * `@ssekit/core`: spec-correct Server-Sent Events for Node.js.
 * @packageDocumentation
 */
export type { SseEvent, StoredEvent, MaybePromise } from './event.js';
export {
  SseError,
  SseFormatError,
  SseClosedError,
  SseOptionsError,
  SseUnavailableError,
  SseHttpError,
  type SseErrorCode,
  type SseField,
  type CloseReason,
} from './errors.js';
export { formatEvent, formatComment, formatEventText, formatIdLine } from './format.js';
export { MAX_TOPIC_LENGTH, topicProblem, assertTopic } from './topic.js';
export type { SseSink } from './sink.js';
export { SSE_HEADERS, streamHeaders, type SseHeaders } from './headers.js';
export { SseWriter } from './writer.js';
export { SseConnection, type Connection, type CloseListener, type CloseOptions, type PipeItem } from './connection.js';
export {
  resolveConnectionOptions,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  type ConnectionOptions,
  type ResolvedConnectionOptions,
  type SseOptions,
  type OpenOptions,
  type Authorize,
} from './options.js';
export {
  nodeSink,
  createConnection,
  isClientDisconnected,
  readLastEventId,
  DefaultProvider,
  type NodeRequest,
  type NodeResponse,
} from './node.js';
export { heartbeatStats, type HeartbeatMember } from './heartbeat.js';
export { isProvider, type Provider } from './provider.js';
export { isBroadcaster, type Broadcaster } from './broadcaster.js';
export { Hub, type HubOptions, type BroadcastHook, type BroadcastToHook } from './hub.js';
export {
  MemoryReplayer,
  isReplayer,
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
