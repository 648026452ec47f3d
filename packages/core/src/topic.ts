/** Topic names: validated where they enter, so a hostile name never reaches a map or a log. */
import { SseFormatError } from './errors.js';

/** Longest accepted topic name, in UTF-16 code units. */
export const MAX_TOPIC_LENGTH = 256;

// C0 controls, DEL and C1 controls.
// eslint-disable-next-line no-control-regex -- finding control characters is what it is for
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Returns why `topic` is not acceptable, or `undefined` when it is. */
export function topicProblem(topic: unknown): string | undefined {
  if (typeof topic !== 'string') return 'must be a string';
  if (topic.length === 0) return 'must not be empty';
  if (topic.length > MAX_TOPIC_LENGTH) return `must be at most ${MAX_TOPIC_LENGTH} characters`;
  if (CONTROL.test(topic)) return 'must not contain control characters';
  if (!topic.isWellFormed()) return 'must be well-formed Unicode';
  return undefined;
}

/** Throws {@link SseFormatError} (field `topic`) for an unacceptable topic name. */
export function assertTopic(topic: unknown): asserts topic is string {
  const problem = topicProblem(topic);
  if (problem) throw new SseFormatError('topic', topic, problem);
}
