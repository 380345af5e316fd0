// The admin API's published JSON Schemas (GET /admin/schemas/tds, /admin/schemas/ids), read once.
import { useEffect, useState } from 'preact/hooks';
import type { Api } from './api.js';

type Schema = Record<string, unknown>;
const cache = new Map<string, Promise<Schema | undefined>>();

export function useSchema(api: Api, kind: 'tds' | 'ids'): Schema | undefined {
  const [schema, setSchema] = useState<Schema | undefined>();
  useEffect(() => {
    let promise = cache.get(kind);
    if (promise === undefined) {
      promise = api.call<Schema>('GET', `/admin/schemas/${kind}`).then(
        (answer) => answer.data,
        () => {
          cache.delete(kind);
          return undefined;
        },
      );
      cache.set(kind, promise);
    }
    let live = true;
    void promise.then((value) => live && setSchema(value));
    return () => {
      live = false;
    };
  }, [api, kind]);
  return schema;
}
