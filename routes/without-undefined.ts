/** The keys of T that may hold undefined. */
type MaybeUndefinedKeys<T> = {
  [K in keyof T]-?: undefined extends T[K] ? K : never;
}[keyof T];

/** T with each key that may hold undefined made optional instead. */
export type WithoutUndefined<T> = {
  [K in Exclude<keyof T, MaybeUndefinedKeys<T>>]: T[K];
} & {
  [K in MaybeUndefinedKeys<T>]?: Exclude<T[K], undefined>;
};

/**
 * A parsed query as the services take it: zod gives a missing optional field as
 * `undefined`, while the services' option types (exactOptionalPropertyTypes) want
 * the key left out.
 */
export function withoutUndefined<T extends object>(value: T): WithoutUndefined<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => v !== undefined),
  ) as WithoutUndefined<T>;
}
