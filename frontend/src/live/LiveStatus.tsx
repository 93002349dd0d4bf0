/**
 * Live store status. One event stream (/api/stores/stream) per signed-in tab
 * patches the query cache as stores change. While the stream is down (not yet
 * connected, a proxy that buffers, a dropped connection) the store queries
 * poll instead, so the page keeps moving without a reload either way.
 */
import { createContext, useContext, useEffect, useState } from 'react';
import type { ReactNode } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import type { StoreOut } from '../client';
import { applyStoreChange, storeKeys } from '../hooks/queries/stores';
import { readEventStream } from './eventStream';
import type { StreamEvent } from './eventStream';

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

export function LiveStatusProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const [mode, setMode] = useState<LiveMode>('connecting');

  useEffect(() => {
    const abort = new AbortController();
    let opened = false;
    const onEvent = ({ event, data }: StreamEvent) => {
      if (event === 'ready') {
        setMode('live');
        // On a reconnect, fetch anything that changed while we were not listening.
        if (opened) void qc.invalidateQueries({ queryKey: storeKeys.all });
        opened = true;
      } else if (event === 'store') {
        try {
          applyStoreChange(qc, JSON.parse(data) as StoreOut);
        } catch {
          void qc.invalidateQueries({ queryKey: storeKeys.all });
        }
      }
    };
    void (async () => {
      while (!abort.signal.aborted) {
        try {
          await readEventStream('/api/stores/stream', onEvent, abort.signal);
        } catch {
          // Refused, cut or unreachable: poll meanwhile, and try again.
        }
        if (abort.signal.aborted) return;
        setMode('polling');
        await new Promise((resolve) => setTimeout(resolve, RECONNECT_MS));
      }
    })();
    return () => abort.abort();
  }, [qc]);

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
