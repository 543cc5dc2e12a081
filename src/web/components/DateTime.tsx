/** @jsxImportSource hono/jsx */
/**
 * A date and a time of day on a 24 h clock, the one way a page asks for a moment: a date input
 * `<name>_date` (the phone's own calendar) and a text input `<name>_time` taking `HH:MM`,
 * `HH:MM:SS` or digits only (`0812`; a phone's number pad has no colon). A native
 * `<input type="time">` is not used: it shows AM/PM wherever the phone's locale does, and the
 * app shows every time on a 24 h clock. The inputs are filled with `ms` in UTC; client.js
 * rewrites them to the viewer's local time (`data-t` on the fieldset) and sets the form's `tzo`
 * (the form needs `data-tz` and a hidden `tzo` field). Routes read them with `formTime`
 * (../validate.ts), which answers 400 with the reason for a date or time it does not take.
 */
import type { FC } from "hono/jsx";
import { TIME_OF_DAY_PATTERN, toDateInput, toTimeInput } from "../validate.ts";

export const DateTimeInput: FC<{ name: string; label: string; ms: number; required?: boolean }> = ({ name, label, ms, required = true }) => (
  <fieldset class="datetime" data-t={String(ms)}>
    <legend>{label}</legend>
    <input type="date" name={`${name}_date`} value={toDateInput(ms)} aria-label={`${label}: date`} required={required} />
    <input
      type="text"
      name={`${name}_time`}
      value={toTimeInput(ms)}
      aria-label={`${label}: time, 24 h (HH:MM or HH:MM:SS)`}
      title="24 h clock: HH:MM or HH:MM:SS"
      pattern={TIME_OF_DAY_PATTERN}
      inputmode="numeric"
      maxlength={8}
      placeholder="HH:MM"
      autocomplete="off"
      required={required}
    />
  </fieldset>
);
