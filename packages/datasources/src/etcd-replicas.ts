import type { Etcd3, Lease } from 'etcd3';
import type { Logger, ReplicaInfo } from '@dynmcp/plugin';
import { prefixEnd, type EtcdKeys } from './etcd-keys.js';
import { byId, decodeReplica, encodeReplica, serialAnnouncement, type ReplicaStore } from './replica-store.js';

// Replica announcements in etcd: one key per replica, attached to a lease of the announcement's TTL
// that etcd3 keeps alive (a keepalive every third of the TTL). A replica that dies or freezes
// stops the keepalives, etcd revokes the lease when it runs out and deletes the key with it.
//
// The keys live at `<prefix>.replicas/<id>`, beside the definitions' `<prefix>/` and outside its
// range, so the definitions' watch never sees them. Every put still takes one of etcd's revisions,
// which are cluster-wide: that is why the listing's revision is not etcd's current revision but
// the newest mod_revision under `<prefix>/` (see list()).

/** The key prefix of the announcements of the definitions under `keys`. */
export function replicasPrefix(keys: EtcdKeys): string {
  return `${keys.root.slice(0, -1)}.replicas/`;
}

/** Options of {@link createEtcdReplicaStore}. */
export interface EtcdReplicaStoreOptions {
  keys: EtcdKeys;
  logger: Logger;
  /** Deadline of one call. */
  timeoutMs: number;
}

/** Announcements under {@link replicasPrefix}. */
export function createEtcdReplicaStore(options: EtcdReplicaStoreOptions): ReplicaStore<Etcd3> {
  const { keys, logger, timeoutMs } = options;
  const prefix = replicasPrefix(keys);
  const deadline = () => ({ deadline: Date.now() + timeoutMs });

  return {
    announce(client, info, ttlMs) {
      const key = `${prefix}${info.id}`;
      // etcd counts lease TTLs in whole seconds (and raises very short ones to its own minimum).
      const ttlSeconds = Math.max(1, Math.ceil(ttlMs / 1000));
      let lease: { owner: Etcd3; lease: Lease } | undefined;

      // A lease lost (expired while this process was frozen or cut off) is replaced at the next update.
      function currentLease(owner: Etcd3): Lease {
        if (lease !== undefined && lease.owner === owner && !lease.lease.revoked()) return lease.lease;
        lease?.lease.release();
        const granted = owner.lease(ttlSeconds, deadline());
        granted.on('lost', (error) => logger.debug('replica lease lost; granted again at the next heartbeat', { error: error.message }));
        lease = { owner, lease: granted };
        return granted;
      }

      async function write(next: ReplicaInfo): Promise<void> {
        await currentLease(client())
          .put(key)
          .value(encodeReplica({ ...next, id: info.id }))
          .options(deadline())
          .exec();
      }

      return serialAnnouncement(write, async () => {
        const held = lease;
        lease = undefined;
        // Revoking the lease deletes the key with it; when etcd is unreachable the TTL does it.
        await held?.lease.revoke(deadline()).catch((error: unknown) => {
          held.lease.release();
          logger.debug('replica lease not revoked', { error: (error as Error).message });
        });
      });
    },

    async list(client) {
      const start = Buffer.from(prefix);
      const root = Buffer.from(keys.root);
      const [announced, newest] = await Promise.all([
        client.kv.range({ key: start, range_end: prefixEnd(start) }, deadline()),
        // The newest definition write; a delete leaves no key, so it does not count here.
        client.kv.range({ key: root, range_end: prefixEnd(root), sort_order: 'Descend', sort_target: 'Mod', limit: 1, keys_only: true }, deadline()),
      ]);
      const replicas = announced.kvs.map((kv) => decodeReplica(kv.value.toString('utf8'))).filter((entry) => entry !== undefined);
      return { revision: Number(newest.kvs[0]?.mod_revision ?? 0), replicas: replicas.sort(byId) };
    },
  };
}
