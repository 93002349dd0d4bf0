import { useEffect } from 'react';

/** Names the browser tab after the page, as screen readers announce it. */
export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · StoreFleet` : 'StoreFleet';
  }, [title]);
}
