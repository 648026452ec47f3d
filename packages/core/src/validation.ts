/**
 * Runtime validation of event data with the `schemas` option: one check per named event, made
 * before an event is encoded, stored or written.
 */
import type { SseEvent } from './event.js';
import type { AnyEvents, EventMap } from './event-map.js';
import { isPromiseLike } from './event.js';
import { SseOptionsError, SseValidationError } from './errors.js';
import type { StandardSchemaV1 } from './standard-schema.js';

/**
 * A Standard Schema per event name of `E` (`message` for the event without a name), checking
 * that event's data at run time. Names without a schema are not checked. Schemas must validate
 * synchronously (zod's and valibot's plain schemas do; an async refinement does not).
 */
export type SseSchemas<E extends EventMap = AnyEvents> = { readonly [K in keyof E]?: StandardSchemaV1<E[K]> };

/** Checks one event; throws {@link SseValidationError} when its schema rejects its data. */
export type EventValidator = (event: SseEvent) => void;

const noop = (): void => {};

/**
 * Builds the validator of a `schemas` option, once per hub or handler (never per event).
 * `undefined` when there is nothing to check, so that the write path pays nothing.
 * @throws {SseOptionsError} when `schemas` is not an object of Standard Schemas.
 */
export function eventValidator(schemas: unknown): EventValidator | undefined {
  if (schemas === undefined) return undefined;
  if (typeof schemas !== 'object' || schemas === null || Array.isArray(schemas)) {
    throw new SseOptionsError('schemas', schemas, 'must be an object of Standard Schemas by event name');
  }
  // A Map, so that names such as `constructor` never find something of Object.prototype.
  const byName = new Map<string, StandardSchemaV1>();
  for (const [name, schema] of Object.entries(schemas)) {
    if (schema === undefined) continue;
    const props = (schema as Partial<StandardSchemaV1> | null)?.['~standard'];
    if (typeof props !== 'object' || props === null || typeof props.validate !== 'function') {
      throw new SseOptionsError(`schemas.${name}`, schema, 'must be a Standard Schema (an object with a "~standard" property)');
    }
    byName.set(name, schema as StandardSchemaV1);
  }
  if (byName.size === 0) return undefined;
  return (event) => {
    // An event with neither name nor data only moves the id or sets retry: nothing to check.
    if (event.event === undefined && event.data === undefined) return;
    const name = event.event ?? 'message';
    const schema = byName.get(name);
    if (schema === undefined) return;
    const result = schema['~standard'].validate(event.data);
    if (isPromiseLike(result)) {
      Promise.resolve(result).then(noop, noop);
      throw new SseOptionsError(`schemas.${name}`, schema, 'validated asynchronously: events are checked synchronously, before they are stored or written; use a schema without async checks');
    }
    if (result.issues !== undefined) throw new SseValidationError(name, result.issues, event.data);
  };
}
