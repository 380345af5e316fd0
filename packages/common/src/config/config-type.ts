/** One setting of a convict schema: what {@link ConfigOf} needs of it. */
interface SettingSchema {
  format?: unknown;
  default: unknown;
}

/** Formats whose values are numbers: convict's own and the schema's strict `whole-number`, `positive-int`, `port-number` and millisecond ones. */
type NumberFormat = 'nat' | 'int' | 'port' | 'whole-number' | 'positive-int' | 'port-number' | 'milliseconds' | 'positive-milliseconds' | 'duration' | 'timestamp' | NumberConstructor;

/**
 * The type of one setting's value: a union of its choices for an enumerated format (written with
 * `oneOf`, which keeps the choices' literal types), what a built-in format says, and otherwise the
 * type of its default (a custom format's default carries its type, e.g. `[] as ScopedKey[]`).
 */
type SettingValue<S extends SettingSchema> = S['format'] extends ReadonlyArray<infer Choice>
  ? Choice
  : S['format'] extends StringConstructor
    ? string
    : S['format'] extends BooleanConstructor
      ? boolean
      : S['format'] extends NumberFormat
        ? number
        : S['default'];

/**
 * The loaded configuration a convict schema describes: the schema's tree with each setting
 * replaced by its value type. `Resolved` lists the dotted paths whose `null` default is replaced
 * after loading (settings "by environment"), so their type has no `null`.
 */
export type ConfigOf<Schema, Resolved extends string = never, Prefix extends string = ''> = {
  -readonly [K in keyof Schema & string]: Schema[K] extends SettingSchema
    ? `${Prefix}${K}` extends Resolved
      ? Exclude<SettingValue<Schema[K]>, null>
      : SettingValue<Schema[K]>
    : ConfigOf<Schema[K], Resolved, `${Prefix}${K}.`>;
};

/**
 * An enumerated format whose choices keep their literal types (`['undici', 'got']` alone would be
 * `string[]`), so the configuration type is their union.
 */
export const oneOf = <Choice extends string>(...choices: Choice[]): Choice[] => choices;
