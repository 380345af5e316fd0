import { GatewayError } from './errors.js';

/**
 * Reads a plugin's options for its `parseOptions`: every getter checks one option's type and
 * throws `GatewayError('PLUGIN_INVALID')` naming the plugin and the option (`tls.caFile`), so the
 * operator knows what to fix before anything starts.
 */
export interface PluginOptionsReader {
  /** The options object itself. */
  readonly raw: Readonly<Record<string, unknown>>;
  string(key: string): string;
  number(key: string): number;
  boolean(key: string): boolean;
  stringList(key: string): string[];
  /** A nested object, read with the same checks; messages name it as `key.option`. */
  object(key: string): PluginOptionsReader;
  /** The same getters, answering `undefined` when the option is absent (or `undefined`). */
  readonly optional: {
    string(key: string): string | undefined;
    number(key: string): number | undefined;
    boolean(key: string): boolean | undefined;
    stringList(key: string): string[] | undefined;
    object(key: string): PluginOptionsReader | undefined;
  };
  /** The error for an option that has the wrong shape: `expected` says what it must be. */
  invalid(key: string, expected: string): GatewayError;
}

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * A {@link PluginOptionsReader} over `raw`, the options a plugin's `parseOptions` receives
 * (`undefined` reads as no options).
 */
export function readPluginOptions(pluginName: string, raw: unknown, path = ''): PluginOptionsReader {
  const invalid = (key: string, expected: string) =>
    new GatewayError('PLUGIN_INVALID', `plugin "${pluginName}": option "${path}${key}" must be ${expected}`);
  if (raw !== undefined && !isRecord(raw)) {
    throw new GatewayError('PLUGIN_INVALID', `plugin "${pluginName}": ${path === '' ? 'its options' : `option "${path.slice(0, -1)}"`} must be an object`);
  }
  const options: Readonly<Record<string, unknown>> = raw ?? {};
  const read = <T>(key: string, expected: string, is: (value: unknown) => boolean): T => {
    const value = options[key];
    if (!is(value)) throw invalid(key, expected);
    return value as T;
  };
  const getters = {
    string: (key: string) => read<string>(key, 'a string', (value) => typeof value === 'string'),
    number: (key: string) => read<number>(key, 'a finite number', (value) => typeof value === 'number' && Number.isFinite(value)),
    boolean: (key: string) => read<boolean>(key, 'true or false', (value) => typeof value === 'boolean'),
    stringList: (key: string) => [
      ...read<readonly string[]>(key, 'a list of strings', (value) => Array.isArray(value) && value.every((entry) => typeof entry === 'string')),
    ],
    object: (key: string) => {
      if (!isRecord(options[key])) throw invalid(key, 'an object');
      return readPluginOptions(pluginName, options[key], `${path}${key}.`);
    },
  };
  const whenPresent =
    <T>(read: (key: string) => T) =>
    (key: string): T | undefined =>
      options[key] === undefined ? undefined : read(key);
  return {
    raw: options,
    ...getters,
    optional: {
      string: whenPresent(getters.string),
      number: whenPresent(getters.number),
      boolean: whenPresent(getters.boolean),
      stringList: whenPresent(getters.stringList),
      object: whenPresent(getters.object),
    },
    invalid,
  };
}
