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
export { nodeSink, type SseSink, type SseHeaders, type NodeRequest, type NodeResponse } from './sink.js';
export { SseWriter, SSE_HEADERS, streamHeaders } from './writer.js';
export {
  SseConnection,
  createConnection,
  isConnection,
  isClientDisconnected,
  readLastEventId,
  resolveConnectionOptions,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  type Connection,
  type ConnectionOptions,
  type ResolvedConnectionOptions,
  type CloseListener,
  type PipeItem,
} from './connection.js';
export { heartbeatStats, type HeartbeatMember } from './heartbeat.js';
export { DefaultProvider, isProvider, type Provider } from './provider.js';
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
export { withReplay, RESET_EVENT, type WithReplayOptions } from './replay.js';
export {
  createSseHandler,
  type SseHandler,
  type SseOptions,
  type OpenOptions,
  type OpenContext,
  type Authorize,
} from './handler.js';
export { closeServerAndStreams, type ClosableServer, type ClosableStreams } from './shutdown.js';
