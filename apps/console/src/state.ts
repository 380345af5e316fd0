// What every page shares: the admin API client, the definitions as last read and kept current
// by the event stream, and a status line for announcements (an aria-live region).
import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Api } from './api.js';
import type { LiveMode } from './events.js';
import type { Instances, Tools } from './model.js';

export interface Console {
  api: Api;
  tools: Tools;
  instances: Instances;
  /** The newest revision the console has seen (0 until known). */
  revision: number;
  loaded: boolean;
  live: { mode: LiveMode; detail?: string };
  /** Features this gateway refused with 501 (or, for a route older gateways lack, 404), by name, with the reason to show. */
  unsupported: Record<string, string>;
  markUnsupported(feature: string, reason: string): void;
  /** Reads every definition again. */
  reload(): Promise<void>;
  /** Announces a short message to everyone, screen readers included. */
  announce(message: string): void;
  signOut(): void;
}

export const ConsoleContext = createContext<Console | undefined>(undefined);

export function useConsole(): Console {
  const value = useContext(ConsoleContext);
  if (value === undefined) throw new Error('useConsole outside the console');
  return value;
}
