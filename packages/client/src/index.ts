/**
 * `@ssekit/client`: a typed, fetch-based Server-Sent Events client for browsers and Node.js.
 * @packageDocumentation
 */
export { connect } from './connect.js';
export { SseClientError, SseOptionsError, type SseClientErrorCode, type SseClientErrorDetails } from './errors.js';
export {
  DEFAULT_RETRY,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  type ConnectOptions,
  type RetryOptions,
  type ParseMode,
  type PerRequest,
  type RequestContext,
  type HeaderValues,
  type QueryValue,
  type QueryValues,
  type RequestBody,
} from './options.js';
export { createEventStreamParser, type EventStreamParser, type ParsedEvent, type ParserCallbacks } from './parser.js';
export type {
  AnyEvents,
  CloseInfo,
  CloseReason,
  DoneInfo,
  ErrorInfo,
  EventMap,
  EventName,
  EventStream,
  GapInfo,
  LifecycleListeners,
  LifecycleName,
  ListenableName,
  Listener,
  OpenInfo,
  SseMessage,
  StreamRole,
  StreamState,
} from './types.js';
