/** @jsxImportSource hono/jsx */
/** Previous/next links for paged lists (big touch targets). */
import type { FC } from "hono/jsx";

export const Pager: FC<{ prev?: string | null; next?: string | null; label?: string }> = ({ prev, next, label }) => (
  <nav class="pager" aria-label="pages">
    {prev ? (
      <a class="button" href={prev} rel="prev">
        ← Newer
      </a>
    ) : (
      <span class="button disabled" aria-disabled="true">← Newer</span>
    )}
    {label ? <span class="muted">{label}</span> : null}
    {next ? (
      <a class="button" href={next} rel="next">
        Older →
      </a>
    ) : (
      <span class="button disabled" aria-disabled="true">Older →</span>
    )}
  </nav>
);
