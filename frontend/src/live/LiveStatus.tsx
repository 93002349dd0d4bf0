/**
 * Live store status. One EventSource on /api/stores/stream per signed-in tab
 * patches the query cache as stores change. While the stream is down (not yet
 * connected, a proxy that buffers, a dropped connection) the store queries
 * poll instead, so the page keeps moving without a reload either way.
 */
import { createContext, useContext, useEffect, useState } from 'react';
import type { ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import type { StoreOut } from '../client';
import { applyStoreChange, storeKeys } from '../hooks/queries/stores';

export type LiveMode = 'connecting' | 'live' | 'polling';

export const POLL_MS = 3000;
const RECONNECT_MS = 5000;

const LiveContext = createContext<LiveMode>('polling');

export function useLiveMode(): LiveMode {
  return useContext(LiveContext);
}

/** How often store queries refetch: never while the stream is live. */
export function usePollInterval(): number | false {
  return useLiveMode() === 'live' ? false : POLL_MS;
}

export function LiveStatusProvider({ token, children }: { token: string; children: ReactNode }) {
  const qc = useQueryClient();
  const [mode, setMode] = useState<LiveMode>('connecting');

  useEffect(() => {
    if (typeof EventSource === 'undefined') {
      setMode('polling');
      return;
    }
    let source: EventSource | null = null;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    let opened = false;

    const connect = () => {
      source = new EventSource(`/api/stores/stream?access_token=${encodeURIComponent(token)}`);
      source.addEventListener('ready', () => {
        setMode('live');
        // On a reconnect, fetch anything that changed while we were not listening.
        if (opened) void qc.invalidateQueries({ queryKey: storeKeys.all });
        opened = true;
      });
      source.addEventListener('store', (event) => {
        try {
          applyStoreChange(qc, JSON.parse((event as MessageEvent<string>).data) as StoreOut);
        } catch {
          void qc.invalidateQueries({ queryKey: storeKeys.all });
        }
      });
      source.onerror = () => {
        setMode('polling');
        // The browser retries a dropped connection itself; a refused one
        // (HTTP error) is closed for good, so open a new one later.
        if (source?.readyState === EventSource.CLOSED && !stopped) {
          retry = setTimeout(connect, RECONNECT_MS);
        }
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(retry);
      source?.close();
    };
  }, [qc, token]);

  return <LiveContext.Provider value={mode}>{children}</LiveContext.Provider>;
}

export function LiveIndicator() {
  const mode = useLiveMode();
  const text = mode === 'live' ? 'Live updates' : mode === 'connecting' ? 'Connecting…' : 'Refreshing every 3 s';
  return (
    <span className={`live live-${mode}`} role="status" data-testid="live-indicator">
      <span className="live-dot" aria-hidden="true" />
      {text}
    </span>
  );
}
