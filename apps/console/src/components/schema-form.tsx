// A form generated from a tool's input_schema: one control per property, nested objects as
// fieldsets (http tools group arguments under path, query, body, headers). What the form cannot
// show as a control (arrays, free-form objects, combinators) is a JSON textarea.
import { useState } from 'preact/hooks';

type Schema = Record<string, unknown>;
export type Arguments = Record<string, unknown>;

const propertiesOf = (schema: Schema): Array<[string, Schema]> =>
  typeof schema.properties === 'object' && schema.properties !== null ? Object.entries(schema.properties as Record<string, Schema>) : [];

const requiredOf = (schema: Schema): string[] => (Array.isArray(schema.required) ? schema.required.map(String) : []);

/** Sets (or, for `undefined`, removes) the value at `path`, pruning objects left empty. */
function setAt(value: Arguments, path: string[], next: unknown): Arguments {
  const [head, ...tail] = path;
  if (head === undefined) return value;
  const out: Arguments = { ...value };
  const child = tail.length === 0 ? next : setAt((out[head] as Arguments | undefined) ?? {}, tail, next);
  if (child === undefined || (typeof child === 'object' && child !== null && !Array.isArray(child) && Object.keys(child).length === 0)) delete out[head];
  else out[head] = child;
  return out;
}

function getAt(value: Arguments, path: string[]): unknown {
  let current: unknown = value;
  for (const part of path) current = typeof current === 'object' && current !== null ? (current as Arguments)[part] : undefined;
  return current;
}

export function SchemaForm({ schema, value, onChange }: { schema: Schema; value: Arguments; onChange(next: Arguments): void }) {
  const properties = propertiesOf(schema);
  if (properties.length === 0) return <p class="muted">This tool takes no arguments.</p>;
  return (
    <div class="schema-form">
      {properties.map(([name, child]) => (
        <Property key={name} path={[name]} schema={child} required={requiredOf(schema).includes(name)} value={value} onChange={onChange} />
      ))}
    </div>
  );
}

function Property(props: { path: string[]; schema: Schema; required: boolean; value: Arguments; onChange(next: Arguments): void }) {
  const { path, schema } = props;
  const id = `arg-${path.join('-')}`;
  const name = path[path.length - 1] as string;
  const label = `${name}${props.required ? ' (required)' : ''}`;
  const description = typeof schema.description === 'string' ? schema.description : undefined;
  const current = getAt(props.value, path);
  const set = (next: unknown) => props.onChange(setAt(props.value, path, next));
  const hint = description === undefined ? undefined : <p class="hint" id={`${id}-hint`}>{description}</p>;
  const describedBy = description === undefined ? undefined : `${id}-hint`;
  const type = schema.type;

  if (type === 'object' && propertiesOf(schema).length > 0) {
    return (
      <fieldset>
        <legend>{label}</legend>
        {hint}
        {propertiesOf(schema).map(([child, childSchema]) => (
          <Property key={child} path={[...path, child]} schema={childSchema} required={requiredOf(schema).includes(child)} value={props.value} onChange={props.onChange} />
        ))}
      </fieldset>
    );
  }
  if (Array.isArray(schema.enum)) {
    const options = schema.enum;
    return (
      <div class="field">
        <label for={id}>{label}</label>
        <select id={id} aria-describedby={describedBy} value={current === undefined ? '' : JSON.stringify(current)} onChange={(e) => set(e.currentTarget.value === '' ? undefined : JSON.parse(e.currentTarget.value))}>
          <option value="">(not set)</option>
          {options.map((option) => (
            <option key={JSON.stringify(option)} value={JSON.stringify(option)}>
              {String(option)}
            </option>
          ))}
        </select>
        {hint}
      </div>
    );
  }
  if (type === 'boolean') {
    return (
      <div class="field">
        <label for={id}>{label}</label>
        <select id={id} aria-describedby={describedBy} value={current === undefined ? '' : String(current)} onChange={(e) => set(e.currentTarget.value === '' ? undefined : e.currentTarget.value === 'true')}>
          <option value="">(not set)</option>
          <option value="true">true</option>
          <option value="false">false</option>
        </select>
        {hint}
      </div>
    );
  }
  if (type === 'string' || type === 'number' || type === 'integer') {
    const numeric = type !== 'string';
    return (
      <div class="field">
        <label for={id}>{label}</label>
        <input
          id={id}
          type={numeric ? 'number' : 'text'}
          step={type === 'integer' ? 1 : 'any'}
          aria-describedby={describedBy}
          value={current === undefined ? '' : String(current)}
          onInput={(e) => {
            const text = e.currentTarget.value;
            set(text === '' ? undefined : numeric ? Number(text) : text);
          }}
        />
        {hint}
      </div>
    );
  }
  return <JsonProperty id={id} label={`${label} (JSON)`} hint={hint} describedBy={describedBy} current={current} set={set} />;
}

function JsonProperty(props: { id: string; label: string; hint: unknown; describedBy: string | undefined; current: unknown; set(next: unknown): void }) {
  const [text, setText] = useState(props.current === undefined ? '' : JSON.stringify(props.current));
  const [error, setError] = useState<string | undefined>();
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <textarea
        id={props.id}
        class="code"
        rows={2}
        spellcheck={false}
        value={text}
        aria-invalid={error !== undefined}
        aria-describedby={[props.describedBy, error === undefined ? undefined : `${props.id}-error`].filter(Boolean).join(' ') || undefined}
        onInput={(e) => {
          const next = e.currentTarget.value;
          setText(next);
          if (next.trim() === '') {
            setError(undefined);
            props.set(undefined);
            return;
          }
          try {
            props.set(JSON.parse(next));
            setError(undefined);
          } catch {
            setError('not valid JSON');
          }
        }}
      />
      {props.hint as never}
      {error !== undefined && (
        <p class="error" id={`${props.id}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}
