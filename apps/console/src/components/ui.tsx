// Small building blocks every page uses: a labelled field with its error, a JSON editor, a copy
// button, and the error of a whole form.
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

/** A label, its control (given as children), a hint and the field's errors, tied together for assistive technology. */
export function Field(props: { id: string; label: string; hint?: string; errors?: string[] | undefined; children: ComponentChildren }) {
  const errors = props.errors ?? [];
  return (
    <div class={`field${errors.length > 0 ? ' invalid' : ''}`}>
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint !== undefined && (
        <p class="hint" id={`${props.id}-hint`}>
          {props.hint}
        </p>
      )}
      {errors.length > 0 && (
        <ul class="error" id={`${props.id}-error`} data-testid={`${props.id}-error`}>
          {errors.map((error) => (
            <li key={error}>{error}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** The aria attributes a control inside a {@link Field} carries. */
export function describedBy(id: string, errors: string[] | undefined, hint = false) {
  const ids = [hint ? `${id}-hint` : '', errors !== undefined && errors.length > 0 ? `${id}-error` : ''].filter((part) => part !== '');
  return { 'aria-invalid': errors !== undefined && errors.length > 0, 'aria-describedby': ids.length > 0 ? ids.join(' ') : undefined };
}

/** A textarea for JSON, with its parse or schema errors shown beneath. */
export function JsonEditor(props: {
  id: string;
  label: string;
  hint?: string;
  value: string;
  errors?: string[] | undefined;
  rows?: number;
  onInput(text: string): void;
}) {
  return (
    <Field id={props.id} label={props.label} hint={props.hint} errors={props.errors}>
      <textarea
        id={props.id}
        class="code"
        rows={props.rows ?? 10}
        spellcheck={false}
        autoComplete="off"
        value={props.value}
        onInput={(event) => props.onInput(event.currentTarget.value)}
        {...describedBy(props.id, props.errors, props.hint !== undefined)}
      />
    </Field>
  );
}

/** Copies `text` to the clipboard; says so on the button and to screen readers. `what`: what is copied ("the MCP URL of shop"). */
export function CopyButton({ text, what }: { text: string; what: string }) {
  const [copied, setCopied] = useState<'yes' | 'no' | undefined>();
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setCopied('yes');
    } catch {
      setCopied(copyBySelection(text) ? 'yes' : 'no');
    }
    setTimeout(() => setCopied(undefined), 2_000);
  };
  return (
    <button type="button" class="secondary small" onClick={() => void copy()}>
      {copied === 'yes' ? 'Copied' : copied === 'no' ? 'Copy failed' : 'Copy'}
      <span class="visually-hidden"> {what}</span>
    </button>
  );
}

/** The clipboard without the async API (insecure origins, denied permission): select and copy. */
function copyBySelection(text: string): boolean {
  const area = document.createElement('textarea');
  area.value = text;
  area.setAttribute('readonly', '');
  area.className = 'offscreen';
  document.body.append(area);
  area.select();
  let done = false;
  try {
    done = document.execCommand('copy');
  } catch {
    done = false;
  }
  area.remove();
  return done;
}

/** An error that concerns a whole form rather than one field. */
export function FormError({ message }: { message: string | undefined }) {
  if (message === undefined) return null;
  return (
    <p class="error" role="alert">
      {message}
    </p>
  );
}

/** Preformatted JSON, labelled for screen readers. */
export function Json({ value, label }: { value: unknown; label: string }) {
  return (
    <pre class="code" aria-label={label} tabIndex={0}>
      {typeof value === 'string' ? value : JSON.stringify(value, null, 2)}
    </pre>
  );
}

/** One `<option>` per id, sorted: the instance pickers of the tools list and the playground. */
export function IdOptions({ ids }: { ids: readonly string[] }) {
  return (
    <>
      {[...ids].sort().map((id) => (
        <option key={id} value={id}>
          {id}
        </option>
      ))}
    </>
  );
}
