import { useState } from 'preact/hooks';
import { messageOf, seg } from '../api.js';
import { useConsole } from '../state.js';

/** Delete with a confirmation step in the page (no modal dialog to trap focus). */
export function DeleteButton(props: { kind: 'tds' | 'ids'; id: string; etag: string | undefined; after: string; what: string }) {
  const { api, announce } = useConsole();
  const [confirming, setConfirming] = useState(false);
  const [error, setError] = useState<string | undefined>();
  const remove = async () => {
    try {
      await api.call('DELETE', `/admin/${props.kind}/${seg(props.id)}`, undefined, props.etag === undefined ? {} : { 'if-match': props.etag });
      announce(`Deleted ${props.what}.`);
      window.location.hash = props.after;
    } catch (caught) {
      setError(messageOf(caught));
      setConfirming(false);
    }
  };
  return (
    <span class="delete">
      {confirming ? (
        <>
          <button type="button" class="danger" onClick={() => void remove()}>
            Confirm delete of {props.what}
          </button>
          <button type="button" class="secondary" onClick={() => setConfirming(false)}>
            Cancel
          </button>
        </>
      ) : (
        <button type="button" class="danger" onClick={() => setConfirming(true)}>
          Delete
        </button>
      )}
      {error !== undefined && (
        <span class="error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}
