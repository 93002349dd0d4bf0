/**
 * Previous / next through a list paged by cursors (GET /api/stores).
 *
 * The trail of cursors that led to the current page is kept by the caller (in
 * the address, so a reload or the back button keeps the page): the current
 * page's cursor is its last entry, Previous drops it, Next appends the page's
 * `next_cursor`. Cursors are opaque strings of base64url characters, so a
 * trail is written as one string joined by '.'.
 */
type Props = {
  /** Cursors that led here; empty on the first page. */
  trail: string[];
  /** The page's `next_cursor`: null on the last page. */
  next: string | null;
  /** Rows on this page, rows per page, and rows on all pages. */
  shown: number;
  limit: number;
  total: number;
  onTrail: (trail: string[]) => void;
  label: string;
};

const SEPARATOR = '.';

export function parseTrail(value: string | null): string[] {
  return (value ?? '').split(SEPARATOR).filter((c) => /^[A-Za-z0-9_-]+$/.test(c));
}

export function formatTrail(trail: string[]): string {
  return trail.join(SEPARATOR);
}

export function CursorPager({ trail, next, shown, limit, total, onTrail, label }: Props) {
  if (trail.length === 0 && next === null) return null;
  const first = shown === 0 ? 0 : trail.length * limit + 1;
  const last = trail.length * limit + shown;
  const pages = Math.max(1, Math.ceil(total / limit));
  return (
    <nav className="pagination" aria-label={label}>
      <button type="button" className="button" disabled={trail.length === 0} onClick={() => onTrail(trail.slice(0, -1))}>
        Previous
      </button>
      <span aria-live="polite">
        {first.toLocaleString()}–{last.toLocaleString()} of {total.toLocaleString()} · page {trail.length + 1} of {pages}
      </span>
      <button type="button" className="button" disabled={next === null} onClick={() => next !== null && onTrail([...trail, next])}>
        Next
      </button>
    </nav>
  );
}
