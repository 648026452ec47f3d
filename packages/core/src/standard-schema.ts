/**
 * The Standard Schema v1 interface (https://standardschema.dev), declared here so that
 * validation needs no dependency: zod, valibot, arktype and others implement it.
 */

/** A schema that validates values of type `Input` into `Output`: the `~standard` property. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  /** The standard properties. */
  readonly '~standard': StandardSchemaProps<Input, Output>;
}

/** The standard properties of a {@link StandardSchemaV1}. */
export interface StandardSchemaProps<Input = unknown, Output = Input> {
  /** The version of the interface: 1. */
  readonly version: 1;
  /** The library that made the schema (`zod`, `valibot`, ...). */
  readonly vendor: string;
  /** Validates a value; may return a promise for a schema with asynchronous checks. */
  readonly validate: (value: unknown) => StandardSchemaResult<Output> | Promise<StandardSchemaResult<Output>>;
  /** The input and output types, for type inference only. */
  readonly types?: { readonly input: Input; readonly output: Output } | undefined;
}

/** What `validate` returns: the value on success, the issues on failure. */
export type StandardSchemaResult<Output> = { readonly value: Output; readonly issues?: undefined } | { readonly issues: ReadonlyArray<StandardSchemaIssue> };

/** One problem a schema found. */
export interface StandardSchemaIssue {
  /** What is wrong, for people. */
  readonly message: string;
  /** Where in the value, when not at its root. */
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}
